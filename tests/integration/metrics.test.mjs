// SPDX-License-Identifier: GPL-3.0-or-later
//
// GET /metrics on tools/serve.mjs (issue 13): the plugin's counters in
// Prometheus's text format, read with the admin key from the plugin's own
// janus.plugin.camera.jcfg (--camera-config).  Two pattern cameras with
// werift viewers on each, one of them holding control: the scrape is read
// strictly (lib/prom.mjs) and its numbers are checked against `info` asked
// just before and just after it (viewers exact, frames/bytes/key frames
// between the two, source state, controller); scrapes within the cache time
// are the same text; a kick, a viewer that never answers its offer and a
// frozen viewer move the drop counters, and Janus's event handlers get the
// same events (sample event handler, as in events.test.mjs) with the camera
// named; a Janus that hangs or is gone gives 503 with janus_camera_up 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setupJanus } from './lib/setup.mjs';
import { jcfg } from './lib/janus.mjs';
import { startServer } from './lib/server.mjs';
import { parsePrometheus } from './lib/prom.mjs';
import { Viewer, ViewerProcess } from './lib/viewer.mjs';
import { startCollector, EVENTS_URL } from './lib/events.mjs';
import { sleep, waitFor } from './lib/util.mjs';
import { parseJcfg, readAdminKey, render } from '../../tools/metrics.mjs';

const ADMIN_KEY = 'metrics "key"';
const FPS = { front: 30, rear: 15 };
const CONFIG = jcfg({ admin_key: JSON.stringify(ADMIN_KEY), liveness_ms: 3000, prepare_timeout_ms: 2000, control_timeout_ms: 0 }, {
  front: { description: '"Front"', width: 320, height: 240, fps: FPS.front },
  rear: { description: '"Rear \\"cam\\""', width: 320, height: 240, fps: FPS.rear },
});

test('lib/prom.mjs refuses what Prometheus would; render() and parseJcfg() on their own', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{l="v\\"\\n\\\\"} 1\n# a comment\n# HELP g y\n# TYPE g gauge\ng NaN\ng{k="1"} -2.5e3 1700000000000\n';
  const p = parsePrometheus(ok);
  assert.equal(p.get('a_total', { l: 'v"\n\\' }), 1);
  assert.equal(p.get('g', { k: '1' }), -2500);
  const bad = {
    'no newline at the end': '# HELP g y\n# TYPE g gauge\ng 1',
    'sample before TYPE': '# HELP g y\ng 1\n# TYPE g gauge\n',
    'sample without HELP': '# TYPE g gauge\ng 1\n',
    'TYPE twice': '# HELP g y\n# TYPE g gauge\n# TYPE g gauge\ng 1\n',
    'counter without _total': '# HELP c y\n# TYPE c counter\nc 1\n',
    'samples apart': '# HELP g y\n# TYPE g gauge\n# HELP h y\n# TYPE h gauge\ng 1\nh 1\ng{a="b"} 1\n',
    'series twice': '# HELP g y\n# TYPE g gauge\ng{a="b"} 1\ng{a="b"} 2\n',
    'bad value': '# HELP g y\n# TYPE g gauge\ng one\n',
    'bad label escape': '# HELP g y\n# TYPE g gauge\ng{a="\\x"} 1\n',
    'unquoted label': '# HELP g y\n# TYPE g gauge\ng{a=b} 1\n',
    'empty line': '# HELP g y\n# TYPE g gauge\n\ng 1\n',
    'unknown type': '# HELP g y\n# TYPE g meter\ng 1\n',
  };
  for (const [what, text] of Object.entries(bad)) assert.throws(() => parsePrometheus(text), undefined, what);

  const cfg = parseJcfg(CONFIG);
  assert.equal(cfg.general.admin_key, ADMIN_KEY);
  assert.equal(cfg.rear.description, 'Rear "cam"');
  assert.throws(() => parseJcfg('general: { admin_key = "x" admin_key = "y" }'), /duplicate/);
  assert.throws(() => parseJcfg('general: { admin_key = /etc/x }'), /expected a value/);
  // Down: only up and the scrape time.
  const down = parsePrometheus(render({ up: false, error: 'Janus unreachable: ECONNREFUSED', durationMs: 3 }));
  assert.equal(down.get('janus_camera_up'), 0);
  assert.equal(down.all('janus_camera_viewers').length, 0);
});

test('GET /metrics: two cameras with viewers, numbers as `info` says; cached for a second; kicks and drops counted, and sent to event handlers; 503 and up 0 without Janus',
  { timeout: 150000 }, async (t) => {
    const collector = await startCollector();
    t.after(() => collector.close());
    const ctx = await setupJanus(t, { raw: CONFIG, eventsUrl: EVENTS_URL });
    const configFile = path.join(ctx.janus.dir, 'janus.plugin.camera.jcfg');
    assert.equal(readAdminKey(configFile), ADMIN_KEY, 'serve.mjs can read the admin key the plugin has');
    const srv = await startServer({ janusUrl: ctx.janus.url, args: ['--camera-config', configFile] });
    ctx.cleanups.push(() => srv.stop());

    const scrape = async () => {
      const t0 = performance.now();
      const r = await fetch(`${srv.base}/metrics`, { signal: AbortSignal.timeout(15000) });
      const text = await r.text();
      let m;
      try {
        m = parsePrometheus(text);
      } catch (e) {
        assert.fail(`/metrics is not valid text format: ${e.message}\n${text}`);
      }
      return { status: r.status, type: r.headers.get('content-type'), text, m, ms: performance.now() - t0 };
    };
    const info = async (camera) => (await ctx.adminHandle.message({ request: 'info', camera })).data;
    const infos = async () => Object.fromEntries(await Promise.all(['front', 'rear'].map(async (c) => [c, await info(c)])));
    const admin = async (body) => (await ctx.adminHandle.message({ admin_key: ADMIN_KEY, ...body })).data;
    // A scrape made after the cache time, bracketed by `info` of both cameras.
    const bracketed = async () => {
      await sleep(1100);
      const t0 = performance.now();
      const before = await infos();
      const s = await scrape();
      const after = await infos();
      s.bracketMs = performance.now() - t0;
      return { before, s, after };
    };

    const viewers = { front: [], rear: [] };
    for (const [camera, n] of [['front', 3], ['rear', 2]]) {
      for (let k = 0; k < n; k++) {
        const v = new Viewer({ url: ctx.janus.url, name: `${camera}-${k}`, camera });
        ctx.cleanups.push(() => v.close());
        viewers[camera].push(v);
      }
    }
    const all = [...viewers.front, ...viewers.rear];
    await Promise.all(all.map((v) => v.join()));
    await Promise.all(all.map((v) => v.waitFrames(10, 15000)));
    const driver = viewers.front[0];
    const take = await driver.request({ request: 'take_control' });
    assert.equal(take.data?.controller, driver.id, JSON.stringify(take.data));

    // Against `info`, taken just before and just after the scrape.
    const check = (before, s, after, expectViewers) => {
      const { m } = s;
      assert.equal(s.status, 200, s.text);
      assert.match(s.type, /^text\/plain; version=0\.0\.4/);
      assert.equal(m.get('janus_camera_up'), 1);
      assert.equal(m.get('janus_camera_admin_access'), 1, 'the admin key from the jcfg works');
      assert.equal(m.get('janus_camera_cameras'), 2);
      for (const c of ['front', 'rear']) {
        const b = before[c];
        const a = after[c];
        const L = { camera: c };
        assert.equal(b.viewers, expectViewers[c], `${c}: info.viewers`);
        assert.equal(a.viewers, expectViewers[c], `${c}: info.viewers after`);
        assert.equal(m.get('janus_camera_viewers', L), expectViewers[c], `${c}: viewers`);
        assert.equal(m.get('janus_camera_viewers_by_state', { camera: c, state: 'started' }), expectViewers[c], `${c}: started viewers`);
        assert.equal(m.get('janus_camera_viewers_by_state', { camera: c, state: 'preparing' }), 0);
        for (const [metric, field] of [['encoder_frames_total', 'frames'], ['encoder_keyframes_total', 'keyframes'],
          ['encoder_forced_keyframes_total', 'forced_keyframes'], ['encoder_bytes_total', 'bytes']]) {
          const v = m.get(`janus_camera_${metric}`, L);
          assert.ok(v >= b.encoder[field] && v <= a.encoder[field], `${c}: ${metric} ${v} not between info's ${b.encoder[field]} and ${a.encoder[field]}`);
        }
        // The bracket itself is short: the frames differ by what the camera made meanwhile.
        const gap = a.encoder.frames - b.encoder.frames;
        assert.ok(gap <= Math.ceil((FPS[c] * s.bracketMs) / 1000) + 2,
          `${c}: ${gap} frames between the two infos, ${s.bracketMs.toFixed(0)} ms apart`);
        for (const st of ['idle', 'running', 'error']) {
          assert.equal(m.get('janus_camera_source_state', { camera: c, state: st }), st === 'running' ? 1 : 0, `${c}: source_state ${st}`);
        }
        assert.equal(m.get('janus_camera_source_width_pixels', L), b.source.width);
        assert.equal(m.get('janus_camera_source_fps', L), FPS[c]);
        assert.equal(m.get('janus_camera_encoder_target_bitrate_bits_per_second', L), b.encoder.bitrate);
        assert.equal(m.get('janus_camera_recording_active', L), 0);
        for (const reason of ['silent', 'unanswered', 'kicked']) {
          assert.equal(m.get('janus_camera_drops_total', { camera: c, reason }), a.drops[reason], `${c}: drops ${reason}`);
        }
      }
      const info = m.all('janus_camera_info');
      assert.deepEqual(info.map((x) => [x.labels.camera, x.labels.description, x.labels.source]),
        [['front', 'Front', 'pattern'], ['rear', 'Rear "cam"', 'pattern']]);
      assert.equal(m.get('janus_camera_control_policy', { policy: 'single' }), 1);
      assert.ok(before.front.control_stats, 'info has control_stats');
      assert.equal(m.get('janus_camera_control_clients'), before.front.control_stats.clients);
      const stops = m.get('janus_camera_control_stops_total');
      assert.ok(stops >= before.front.control_stats.stops && stops <= after.front.control_stats.stops, `control stops ${stops}`);
    };

    let { before, s, after } = await bracketed();
    console.log(`# scrape: ${s.ms.toFixed(0)} ms, ${s.text.length} bytes, ${s.m.families.size} families; info before/after ${s.bracketMs.toFixed(0)} ms apart`);
    check(before, s, after, { front: 3, rear: 2 });
    assert.equal(before.front.controller, driver.id);
    assert.deepEqual(s.m.all('janus_camera_controller'), [{ labels: { controller: String(driver.id), camera: 'front' }, value: 1 }]);
    for (const c of ['front', 'rear']) {
      for (const reason of ['silent', 'unanswered', 'kicked']) assert.equal(s.m.get('janus_camera_drops_total', { camera: c, reason }), 0);
    }
    const silence = s.m.get('janus_camera_viewer_silence_max_seconds', { camera: 'front' });
    assert.ok(silence >= 0 && silence < 3, `front: longest silence ${silence} s`);

    // Cached: two scrapes at once and one right after are the same text, made once.
    await sleep(1100);
    const [c1, c2] = await Promise.all([scrape(), scrape()]);
    const c3 = await scrape();
    assert.equal(c1.text, c2.text);
    assert.equal(c1.text, c3.text, 'a scrape within the cache time is the cached one');
    await sleep(1100);
    const c4 = await scrape();
    assert.ok(c4.m.get('janus_camera_encoder_frames_total', { camera: 'front' }) > c3.m.get('janus_camera_encoder_frames_total', { camera: 'front' }),
      'after the cache time, a new scrape');

    // Kick a rear viewer: kicked 1 on rear, one viewer less.
    const kicked = viewers.rear[1];
    assert.equal((await admin({ request: 'kick', id: kicked.id, camera: 'rear' })).camera, 'ok');
    await kicked.waitEvent('kicked', 5000);
    await waitFor(async () => (await info('rear')).viewers === 1, { timeout: 5000, what: 'rear viewers 1 after the kick' });
    ({ before, s, after } = await bracketed());
    check(before, s, after, { front: 3, rear: 1 });
    assert.equal(s.m.get('janus_camera_drops_total', { camera: 'rear', reason: 'kicked' }), 1);
    assert.equal(s.m.get('janus_camera_drops_total', { camera: 'front', reason: 'kicked' }), 0);

    // A viewer that never answers its offer: preparing, then dropped as unanswered.
    const mute = new Viewer({ url: ctx.janus.url, name: 'unanswered', camera: 'front' });
    ctx.cleanups.push(() => mute.close());
    await mute.connect();
    const w = await mute.watch();
    assert.ok(w.jsep, JSON.stringify(w.data));
    await sleep(1100);
    const p = await scrape();
    assert.equal(p.m.get('janus_camera_viewers_by_state', { camera: 'front', state: 'preparing' }), 1, 'the unanswered viewer, preparing');
    assert.equal(p.m.get('janus_camera_viewers', { camera: 'front' }), 4);
    await mute.waitEvent('dropped', 6000);

    // A frozen viewer (SIGSTOP): silent for liveness_ms, dropped as silent.
    const frozen = new ViewerProcess({ url: ctx.janus.url, name: 'frozen' });
    ctx.cleanups.push(() => frozen.close());
    await frozen.join({ camera: 'front' });
    frozen.freeze();
    const frozenAt = performance.now();
    await waitFor(async () => (await info('front')).drops.silent === 1, { timeout: 8000, interval: 200, what: 'front drops.silent 1' });
    console.log(`# frozen viewer dropped ${(performance.now() - frozenAt).toFixed(0)} ms after SIGSTOP`);
    frozen.thaw();
    ({ before, s, after } = await bracketed());
    check(before, s, after, { front: 3, rear: 1 });
    assert.deepEqual(['silent', 'unanswered', 'kicked'].map((reason) => s.m.get('janus_camera_drops_total', { camera: 'front', reason })), [1, 1, 0]);
    assert.deepEqual(['silent', 'unanswered', 'kicked'].map((reason) => s.m.get('janus_camera_drops_total', { camera: 'rear', reason })), [0, 0, 1]);

    // The controller leaves: nobody holds control.
    await driver.stop();
    await waitFor(async () => (await info('front')).controller === null, { timeout: 5000, what: 'no controller' });
    ({ before, s, after } = await bracketed());
    check(before, s, after, { front: 2, rear: 1 });
    assert.deepEqual(s.m.all('janus_camera_controller'), [{ labels: {}, value: 0 }]);

    // The same at the event handler, each with its camera.
    const ev = (pred, what) => waitFor(() => collector.events.find((e) => pred(e.data)),
      { timeout: 5000, what: () => `${what} at the event handler; got ${JSON.stringify(collector.events.map((e) => e.data))}` });
    const k = await ev((d) => d.event === 'kicked' && d.id === kicked.id, 'kicked');
    assert.deepEqual(k.data, { event: 'kicked', id: kicked.id, camera: 'rear' });
    const kl = await ev((d) => d.event === 'left' && d.id === kicked.id, 'left after the kick');
    assert.ok(kl.at >= k.at, 'kicked comes before left');
    const u = await ev((d) => d.event === 'dropped' && d.id === mute.id, 'dropped (unanswered)');
    assert.deepEqual(u.data, { event: 'dropped', id: mute.id, camera: 'front', reason: 'unanswered' });
    const f = await ev((d) => d.event === 'dropped' && d.id === frozen.id, 'dropped (silent)');
    assert.deepEqual(f.data, { event: 'dropped', id: frozen.id, camera: 'front', reason: 'silent' });
    const fl = await ev((d) => d.event === 'left' && d.id === frozen.id, 'left after the drop');
    assert.ok(fl.at >= f.at, 'dropped comes before left');
    for (const v of all) {
      const camera = v.camera;
      for (const name of ['watch', 'started']) {
        const e = await ev((d) => d.event === name && d.id === v.id, `${name} of ${v.name}`);
        assert.deepEqual(e.data, { event: name, id: v.id, camera }, `${name} of ${v.name}`);
      }
    }
    const handover = await ev((d) => d.event === 'controller' && d.controller === null && d.previous === driver.id, 'controller gone');
    assert.equal(handover.data.reason, 'left');
    const dropEvents = collector.events.filter((e) => ['kicked', 'dropped'].includes(e.data.event)).length;
    const dropTotal = s.m.all('janus_camera_drops_total').reduce((n, x) => n + x.value, 0);
    assert.equal(dropEvents, dropTotal, 'one kicked/dropped event per counted drop');

    // Janus hung (SIGSTOP): 503 with up 0 after serve.mjs's 5 s wait, not
    // the scraper's timeout; and 200 again once it goes on.
    process.kill(ctx.janus.pid, 'SIGSTOP');
    let h;
    try {
      await sleep(1100);
      h = await scrape();
    } finally {
      process.kill(ctx.janus.pid, 'SIGCONT');
    }
    console.log(`# Janus hung: ${h.status} in ${h.ms.toFixed(0)} ms`);
    assert.equal(h.status, 503, h.text);
    assert.equal(h.m.get('janus_camera_up'), 0);
    assert.ok(h.ms < 8000, `503 took ${h.ms.toFixed(0)} ms`);
    await sleep(1100);
    const back = await scrape();
    assert.equal(back.status, 200, back.text);
    assert.equal(back.m.get('janus_camera_up'), 1);

    // Janus gone: 503 with up 0, quickly, and still valid text.
    await frozen.close();
    for (const v of [...all, mute]) await v.close().catch(() => {});
    await ctx.admin.destroy().catch(() => {});
    await ctx.janus.stopAndCheck();
    ctx.janus = null;
    await sleep(1100);
    const d = await scrape();
    console.log(`# Janus stopped: ${d.status} in ${d.ms.toFixed(0)} ms`);
    assert.equal(d.status, 503, d.text);
    assert.equal(d.m.get('janus_camera_up'), 0);
    assert.equal(d.m.all('janus_camera_viewers').length, 0);
    assert.ok(d.ms < 3000, `503 took ${d.ms.toFixed(0)} ms`);
  });
