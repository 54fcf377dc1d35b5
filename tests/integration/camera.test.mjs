// SPDX-License-Identifier: GPL-3.0-or-later
//
// janus.plugin.camera against real clients: the Debian Janus loading the
// freshly built plugin (test pattern source), headless Chromium on the demo
// page, and werift viewers, all in the private namespace of netns-run.
// Assertions are about what the clients really received or decoded; Janus's
// log is only quoted to explain a failure.  Timings and CPU are printed
// ("# ..." lines), not asserted, except where the issue asks for a figure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupJanus } from './lib/setup.mjs';
import { Viewer, ViewerProcess, PLUGIN, assertCleanVideo } from './lib/viewer.mjs';
import { startServer } from './lib/server.mjs';
import { launchBrowser, inboundVideo, readStamp, waitDecoded } from './lib/browser.mjs';
import { median, sleep, waitFor } from './lib/util.mjs';

const FPS = 30;

// Per-test setup (lib/setup.mjs) plus werift viewers that clean up after
// themselves.
async function setup(t, janusOpts = {}) {
  const ctx = await setupJanus(t, janusOpts);
  const { cleanups } = ctx;
  ctx.viewer = async (name, opts) => {
    const v = new Viewer({ url: ctx.janus.url, name });
    cleanups.push(() => v.close());
    await v.join(opts);
    return v;
  };
  return ctx;
}

// (now - stamp) in ms, modulo 2^32 as the contract's capture time is.
function stampDelay(stamp) {
  const d = ((stamp.now % 2 ** 32) - stamp.timeMs + 2 ** 32) % 2 ** 32;
  return d > 2 ** 31 ? d - 2 ** 32 : d;
}

test('Chromium plays the demo page: >= 2 s of 640x480 decoded, stamp counter advances', { timeout: 90000 }, async (t) => {
  const ctx = await setup(t);
  const srv = await startServer({ janusUrl: ctx.janus.url });
  ctx.cleanups.push(() => srv.stop());
  const browser = await launchBrowser();
  ctx.cleanups.push(() => browser.close());

  const page = await browser.newPage(srv.pageUrl);
  const first = await waitDecoded(page, { frames: 1, timeout: 20000 });
  const t0 = performance.now();
  await sleep(2200);
  const after = await inboundVideo(page);
  const secs = (performance.now() - t0) / 1000;
  console.log(`# chromium: ${after.framesDecoded - first.framesDecoded} frames decoded in ${secs.toFixed(1)} s, ` +
    `${after.frameWidth}x${after.frameHeight}, keyFramesDecoded ${after.keyFramesDecoded}, pli ${after.pliCount}, lost ${after.packetsLost}`);
  assert.equal(after.frameWidth, 640, `frameWidth ${JSON.stringify(after)}`);
  assert.equal(after.frameHeight, 480, `frameHeight ${JSON.stringify(after)}`);
  // 2 s at 30 fps is 60 frames; allow for the decoder's start-up pace.
  assert.ok(after.framesDecoded - first.framesDecoded >= 0.8 * FPS * 2,
    `decoded ${after.framesDecoded - first.framesDecoded} frames in ${secs.toFixed(1)} s\n${ctx.logExcerpt()}`);

  // The picture itself: our own reading of the stamp, twice, 0.5 s apart.
  const s1 = await waitFor(async () => { const s = await readStamp(page); return s.error ? null : s; },
    { timeout: 5000, what: 'a readable stamp in the <video>' });
  await sleep(500);
  const s2 = await waitFor(async () => { const s = await readStamp(page); return s.error ? null : s; },
    { timeout: 5000, what: 'a second readable stamp' });
  console.log(`# chromium stamp: counter ${s1.counter} -> ${s2.counter} in ${s2.now - s1.now} ms; ` +
    `glass-to-glass ${stampDelay(s1)} / ${stampDelay(s2)} ms`);
  assert.ok(s2.counter > s1.counter, `frame counter did not advance: ${s1.counter} -> ${s2.counter}`);
  // ~15 frames in 0.5 s; a frozen or replayed picture would not do that.
  assert.ok(s2.counter - s1.counter >= 5 && s2.counter - s1.counter <= 60,
    `counter advanced by ${s2.counter - s1.counter} in ${s2.now - s1.now} ms`);
  assert.ok(Math.abs(stampDelay(s2)) < 5000, `capture time in the stamp is off by ${stampDelay(s2)} ms`);
});

test('10 werift viewers: each decodes >= 28 pictures/s of 640x480 for 10 s, every stamp in order, nothing lost; info says 10, the encoder runs once (~30 frames/s)', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t);
  const viewers = [await ctx.viewer('v1')];
  await viewers[0].waitFrames(10, 10000);

  // CPU at one viewer, over 5 s, printed.
  let u0 = ctx.janus.usage();
  await sleep(5000);
  const cpu1 = ctx.janus.cpuPercentSince(u0);

  const more = await Promise.all(Array.from({ length: 9 }, (_, i) => ctx.viewer(`v${i + 2}`)));
  viewers.push(...more);
  await Promise.all(viewers.map((v) => v.waitFrames(5, 15000)));
  console.log(`# werift first picture (watch -> first decoded picture), ms: ${more.map((v) => v.firstFrameMs?.toFixed(0)).join(' ')} ` +
    `(median ${median(more.map((v) => v.firstFrameMs)).toFixed(0)})`);
  await sleep(1000); // let the joins' forced key frames and RTCP settle

  const i0 = await ctx.info();
  assert.equal(i0.viewers, 10, `info.viewers with 10 watching: ${JSON.stringify(i0)}`);
  const from = performance.now();
  u0 = ctx.janus.usage();
  const dec0 = viewers.map((v) => v.decoderCpuMs());
  await sleep(10000);
  const to = performance.now();
  const cpu10 = ctx.janus.cpuPercentSince(u0);
  const decCpu = viewers.map((v, i) => (100 * (v.decoderCpuMs() - dec0[i])) / (to - from));
  const i1 = await ctx.info();
  const secs = (to - from) / 1000;
  const encRate = (i1.encoder.frames - i0.encoder.frames) / secs;

  const reports = viewers.map((v) => assertCleanVideo(v, from, to, { minFps: 28, extra: ctx.logExcerpt() }));
  console.log(`# 10 viewers over ${secs.toFixed(1)} s, decoded pictures/s: ${reports.map((r) => r.fps.toFixed(1)).join(' ')}`);
  console.log(`# per viewer over the 10 s: lost RTP packets ${reports.map((r) => r.rtpGaps).join(' ')}; frame counter skips ${reports.map((r) => r.gaps).join(' ')}; ` +
    `decode errors ${reports.map((r) => r.errors).join(' ')}; since joining: lost RTP packets ${reports.map((r) => r.rtpGapsTotal).join(' ')}, ` +
    `frames given up ${reports.map((r) => r.incompleteTotal).join(' ')}, PLIs sent ${reports.map((r) => r.plisSent).join(' ')}`);
  console.log(`# glass-to-glass (capture -> decoded), median per viewer, ms: ${reports.map((r) => r.delayMedian).join(' ')}; ` +
    `p95 ${reports.map((r) => r.delayP95).join(' ')}`);
  console.log(`# decoder CPU (vp8dec, 1 thread), % of a core per viewer: ${decCpu.map((c) => c.toFixed(1)).join(' ')} ` +
    `(all 10: ${decCpu.reduce((a, b) => a + b, 0).toFixed(1)})`);
  console.log(`# encoder: ${encRate.toFixed(1)} frames/s with 10 viewers (info.viewers ${i1.viewers}); keyframes ${i0.encoder.keyframes} -> ${i1.encoder.keyframes}`);
  console.log(`# Janus CPU: ${cpu1.percent.toFixed(1)} % of a core at 1 viewer (RSS ${cpu1.rssKiB} KiB), ` +
    `${cpu10.percent.toFixed(1)} % at 10 viewers (RSS ${cpu10.rssKiB} KiB)`);

  assert.equal(i1.viewers, 10, `info.viewers after 10 s: ${JSON.stringify(i1)}`);
  // Encode once: ~30 frames/s whatever the number of viewers (not 300).
  assert.ok(encRate >= 0.85 * FPS && encRate <= 1.15 * FPS, `encoder made ${encRate.toFixed(1)} frames/s with 10 viewers`);
});

test('demo page reloaded 20 times: video back each time; last tab closed -> 0 viewers within 1 s, encoder stops', { timeout: 240000 }, async (t) => {
  const ctx = await setup(t);
  const srv = await startServer({ janusUrl: ctx.janus.url });
  ctx.cleanups.push(() => srv.stop());
  const browser = await launchBrowser();
  ctx.cleanups.push(() => browser.close());

  // Timing of each join, from the page's `watch` request to the first frame
  // the <video> presents (requestVideoFrameCallback), both in epoch ms and
  // recorded inside the page, so Node's polling adds nothing.
  await browser.context.addInitScript(() => {
    window.__cam = { watchAt: null, firstFrameAt: null, watchAnswer: null };
    const isWatch = (b) => typeof b === 'string' && /"request"\s*:\s*"watch"/.test(b);
    const origFetch = window.fetch;
    window.fetch = function (input, init) {
      const p = origFetch.apply(this, arguments);
      if (init && isWatch(init.body) && window.__cam.watchAt === null) {
        window.__cam.watchAt = Date.now();
        // Janus's immediate answer ("ack") proves the request got through
        // the proxy to the core; for a failure report.
        p.then((r) => r.clone().text()).then((t) => { window.__cam.watchAnswer = `${Date.now()} ${t.replace(/\s+/g, ' ').slice(0, 200)}`; })
          .catch((e) => { window.__cam.watchAnswer = `error ${e}`; });
      }
      return p;
    };
    const origSend = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (body) {
      if (isWatch(body) && window.__cam.watchAt === null) window.__cam.watchAt = Date.now();
      return origSend.apply(this, arguments);
    };
    const arm = () => {
      const v = document.querySelector('video');
      if (!v) return;
      v.requestVideoFrameCallback(() => {
        if (window.__cam.firstFrameAt === null) window.__cam.firstFrameAt = Date.now();
      });
    };
    document.addEventListener('DOMContentLoaded', arm);
  });

  const page = await browser.newPage();
  const joins = [];
  const loads = [];
  for (let i = 0; i < 21; i++) {
    const tLoad = performance.now();
    if (i === 0) await page.goto(srv.pageUrl, { timeout: 15000, waitUntil: 'load' });
    else await page.reload({ timeout: 15000, waitUntil: 'load' });
    // A new PeerConnection, decoding frames, at full size.
    let st;
    try {
      st = await waitFor(async () => {
        const s = await inboundVideo(page);
        return s && s.framesDecoded >= 3 && s.frameWidth === 640 ? s : null;
      }, { timeout: 20000, interval: 50, what: `video after load #${i}` });
    } catch (e) {
      // Say where it stuck: did the page send `watch`, what does it
      // believe, and what do Janus and the plugin hold for its handle.
      const pageView = await page.evaluate(() => ({
        watchSentAt: window.__cam.watchAt, watchAnswer: window.__cam.watchAnswer, firstFrameAt: window.__cam.firstFrameAt,
        state: window.cameraDemo?.state, error: window.cameraDemo?.error, viewerId: window.cameraDemo?.viewerId,
        pc: window.cameraDemo?.pc?.connectionState ?? null,
      })).catch((x) => ({ evaluateFailed: x.message }));
      throw new Error(`${e.message}\npage: ${JSON.stringify(pageView)}, now ${Date.now()}\n` +
        `--- Janus handles (admin API) ---\n${await ctx.janus.dumpHandles()}\n` +
        `--- Janus threads in the plugin (gdb) ---\n${ctx.janus.liveStacks().slice(0, 12000)}\n` +
        `--- Janus log (last lines) ---\n${ctx.janus.tail(25)}`);
    }
    loads.push(performance.now() - tLoad);
    const cam = await waitFor(() => page.evaluate(() => (window.__cam.firstFrameAt ? window.__cam : null)),
      { timeout: 5000, what: `requestVideoFrameCallback after load #${i}` });
    if (i < 10 && cam.watchAt) joins.push(cam.firstFrameAt - cam.watchAt);
    // (waitFor above already saw 3 frames 640 wide; the height is the rest of the size.)
    assert.equal(st.frameHeight, 480, `load #${i}: ${JSON.stringify(st)}`);
  }
  console.log(`# chromium join, watch -> first presented frame, ms (10 joins): ${joins.map((x) => x.toFixed(0)).join(' ')} ` +
    `(median ${median(joins).toFixed(0)})`);
  console.log(`# page load -> 3 frames decoded, ms (21 loads): median ${median(loads).toFixed(0)}, max ${Math.max(...loads).toFixed(0)}`);
  assert.equal(joins.length, 10, 'every one of the first 10 joins was timed');

  // The 20 reloaded pages left no viewers behind: only this tab watches.
  let last;
  await waitFor(async () => (last = await ctx.info()).viewers === 1, {
    timeout: 5000, what: () => `info.viewers == 1 after 20 reloads (${last?.viewers})`,
  });

  // Close the tab as a user does (beforeunload runs, as in a real browser).
  await page.close({ runBeforeUnload: true });
  const closedAt = performance.now();
  let after;
  await waitFor(async () => (after = await ctx.info()).viewers === 0, {
    timeout: 1000, interval: 25,
    what: () => `info.viewers == 0 within 1 s of closing the last tab (${after?.viewers})\n${ctx.logExcerpt()}`,
  });
  console.log(`# last tab closed -> info.viewers 0 after ${(performance.now() - closedAt).toFixed(0)} ms`);

  // on_demand (the default): the encoder stops making frames.
  await sleep(500);
  const f0 = (await ctx.info()).encoder.frames;
  await sleep(1500);
  const i2 = await ctx.info();
  console.log(`# encoder frames with no viewers: ${f0} -> ${i2.encoder.frames} over 1.5 s; source ${i2.source.state}`);
  assert.equal(i2.encoder.frames, f0, `encoder still running with 0 viewers: ${f0} -> ${i2.encoder.frames}`);
});

test('one frozen werift viewer does not lower the others\' frame rate', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t);
  const others = await Promise.all([1, 2, 3].map((i) => ctx.viewer(`ok${i}`)));
  const frozen = new ViewerProcess({ url: ctx.janus.url, name: 'frozen' });
  ctx.cleanups.push(() => frozen.close());
  await frozen.join();
  await Promise.all(others.map((v) => v.waitFrames(10, 10000)));
  await waitFor(async () => (await frozen.stats()).frames >= 10, { timeout: 10000, what: 'frozen viewer decoding before the freeze' });

  const b0 = performance.now();
  await sleep(5000);
  const b1 = performance.now();
  const before = others.map((v) => v.decoded.fps(b0, b1));

  // SIGSTOP: from the server's view the client is there but reads nothing,
  // answers nothing, sends no RTCP, STUN or SCTP acks.
  frozen.freeze();
  const f0 = performance.now();
  await sleep(10000);
  const f1 = performance.now();
  assert.ok(ctx.janus.running, `Janus died while a viewer was frozen: ${ctx.janus.deathReport()}`);
  const info = await ctx.info();
  frozen.thaw();
  // The others decode a clean stream throughout the freeze.
  const during = others.map((v) => assertCleanVideo(v, f0, f1, { minFps: 28, extra: ctx.logExcerpt() }));
  const thawed = await frozen.stats(2000);

  console.log(`# others' decoded pictures/s before freeze: ${before.map((r) => r.toFixed(1)).join(' ')}; ` +
    `during 10 s freeze: ${during.map((r) => r.fps.toFixed(1)).join(' ')}; counter skips ${during.map((r) => r.gaps).join(' ')}; ` +
    `lost RTP ${during.map((r) => r.rtpGaps).join(' ')}; info.viewers ${info.viewers}`);
  console.log(`# the frozen viewer after thawing: ${thawed.frames} pictures, lost RTP ${thawed.gaps}, ` +
    `reassembly ${JSON.stringify(thawed.reassembly)}, counter skips ${thawed.decoded?.counterGaps}`);
  during.forEach((r, i) => {
    assert.ok(r.fps >= before[i] - 2, `${others[i].name}: ${before[i].toFixed(1)} -> ${r.fps.toFixed(1)} pictures/s during the freeze`);
  });
  // 10 s without a word is past liveness_ms (5 s by default): the frozen
  // viewer was dropped, the three others were not.
  assert.equal(info.viewers, 3, `info.viewers after a 10 s freeze: ${JSON.stringify(info.viewers)}`);
});

// The malformed requests: [name, body, expected error codes, where].
// where: 'fresh' (a handle that never watched), 'viewer' (the watching
// viewer's own handle: a bad request there must not disturb its video).
const ADMIN_KEY = 'sekret-admin';
const PIN = '2468';
const HUGE = 'x'.repeat(200000);
function malformedCases() {
  return [
    ['no request', {}, [483], 'fresh'],
    ['request: number', { request: 5 }, [484], 'fresh'],
    ['request: null', { request: null }, [483, 484], 'fresh'],
    ['request: true', { request: true }, [484], 'fresh'],
    ['request: array', { request: ['watch'] }, [484], 'fresh'],
    ['request: object', { request: { watch: 1 } }, [484], 'fresh'],
    ['request: unknown', { request: 'nope' }, [482], 'fresh'],
    ['request: wrong case', { request: 'WATCH' }, [482], 'fresh'],
    ['request: empty string', { request: '' }, [482, 484], 'fresh'],
    ['request: huge string', { request: HUGE }, [482, 484], 'fresh'],
    ['watch: no pin', { request: 'watch' }, [486], 'fresh'],
    ['watch: wrong pin', { request: 'watch', pin: '0000' }, [486], 'fresh'],
    ['watch: pin number', { request: 'watch', pin: 2468 }, [484, 486], 'fresh'],
    ['watch: huge pin', { request: 'watch', pin: HUGE }, [484, 486], 'fresh'],
    ['start before watch', { request: 'start' }, [483, 487], 'fresh'],
    ['stop before watch', { request: 'stop' }, [487], 'fresh'],
    ['keyframe before watch', { request: 'keyframe' }, [487], 'fresh'],
    ['take_control before watch', { request: 'take_control' }, [487, 489], 'fresh'],
    ['release_control by non-controller', { request: 'release_control' }, [487, 489], 'fresh'],
    ['send by non-controller', { request: 'send', data: { cmd: 'x' } }, [487, 489], 'fresh'],
    ['list without admin_key', { request: 'list' }, [486], 'fresh'],
    ['list wrong admin_key', { request: 'list', admin_key: 'guess' }, [486], 'fresh'],
    ['list admin_key number', { request: 'list', admin_key: 12345 }, [484, 486], 'fresh'],
    ['list huge admin_key', { request: 'list', admin_key: HUGE }, [484, 486], 'fresh'],
    // One fault per case: a valid bitrate, only the key is wrong.
    ['configure wrong admin_key', { request: 'configure', admin_key: 'guess', bitrate: 500000 }, [486], 'fresh'],
    ['configure no admin_key', { request: 'configure', bitrate: 500000 }, [486], 'fresh'],
    ['configure bitrate string', { request: 'configure', admin_key: ADMIN_KEY, bitrate: 'fast' }, [484], 'fresh'],
    ['configure bitrate negative', { request: 'configure', admin_key: ADMIN_KEY, bitrate: -5 }, [484], 'fresh'],
    ['configure bitrate huge', { request: 'configure', admin_key: ADMIN_KEY, bitrate: 1e15 }, [484], 'fresh'],
    ['configure fps zero', { request: 'configure', admin_key: ADMIN_KEY, fps: 0 }, [484], 'fresh'],
    ['configure fps float', { request: 'configure', admin_key: ADMIN_KEY, fps: 1.5 }, [484], 'fresh'],
    ['configure fps huge', { request: 'configure', admin_key: ADMIN_KEY, fps: 100000 }, [484], 'fresh'],
    ['configure keyframe_interval string', { request: 'configure', admin_key: ADMIN_KEY, keyframe_interval: 'x' }, [484], 'fresh'],
    ['configure keyframe_interval negative', { request: 'configure', admin_key: ADMIN_KEY, keyframe_interval: -1 }, [484], 'fresh'],
    ['kick without id', { request: 'kick', admin_key: ADMIN_KEY }, [483], 'fresh'],
    ['kick id string', { request: 'kick', admin_key: ADMIN_KEY, id: 'abc' }, [484], 'fresh'],
    ['kick wrong admin_key', { request: 'kick', admin_key: 'guess', id: 1 }, [486], 'fresh'],
    ['watch twice', { request: 'watch', pin: PIN }, [487], 'viewer'],
    ['start twice', { request: 'start', jsep: true }, [487], 'viewer'],
    ['send by a non-controller viewer', { request: 'send', data: 1 }, [489], 'viewer'],
  ];
}

test('200 malformed requests each get the contract\'s error code; a watching viewer keeps its video', { timeout: 180000 }, async (t) => {
  const ctx = await setup(t, { set: { pin: `"${PIN}"`, admin_key: `"${ADMIN_KEY}"` } });
  const viewer = await ctx.viewer('watcher', { pin: PIN });
  await viewer.waitFrames(10, 10000);
  const joinedAt = performance.now();
  const infoBefore = await ctx.info();
  const answerSdp = viewer.pc.localDescription.sdp;

  // A few fresh handles, round-robin, so per-handle state cannot mask bugs.
  const fresh = [];
  for (let i = 0; i < 4; i++) fresh.push(await ctx.admin.attach(PLUGIN));

  const cases = malformedCases();
  const failures = [];
  const seen = {};
  const from = performance.now();
  let n = 0;
  // Core-level garbage first: bodies that are not JSON objects.  The Janus
  // core rejects those itself before the plugin sees them; what matters is an
  // error answer and no harm.  They count toward the 200.
  // Likewise an answer on a handle that was never offered anything: the core
  // refuses it (469) before the plugin's `start` could say 487.
  const nonObjects = [
    ['body: string', '"watch"'], ['body: number', '5'], ['body: array', '[1,2]'], ['body: null', 'null'],
    ['start before watch, with answer', `{"request":"start"},"jsep":${JSON.stringify({ type: 'answer', sdp: answerSdp })}`],
  ];
  for (const [name, bodyText] of nonObjects) {
    const h = fresh[n % fresh.length];
    const raw = `{"janus":"message","transaction":"bad${n}","body":${bodyText}}`;
    n++;
    try {
      const r = await h.message(null, { rawBody: raw, timeout: 5000 });
      const code = r.data?.error_code;
      seen[name] = `plugin ${code}`;
      const want = name.startsWith('start') ? 487 : 480;
      if (code !== want) failures.push(`${name}: expected a core error or plugin ${want}, got ${JSON.stringify(r.data)}`);
    } catch (e) {
      seen[name] = `core ${e.code ?? e.message}`;
      if (e.code === undefined) failures.push(`${name}: ${e.message}`);
    }
  }
  for (let round = 0; n < 200 && round < 10; round++) {
    for (const [name, body0, expected, where] of cases) {
      if (n >= 200) break;
      const body = { ...body0 };
      const opts = { timeout: 8000 };
      if (body.jsep === true) {
        delete body.jsep;
        opts.jsep = { type: 'answer', sdp: answerSdp };
      }
      const h = where === 'viewer' ? viewer.handle : fresh[n % fresh.length];
      n++;
      let r;
      try {
        r = await h.message(body, opts);
      } catch (e) {
        failures.push(`${name}: no plugin answer: ${e.message}`);
        continue;
      }
      const d = r.data || {};
      seen[name] = d.error_code;
      if (!expected.includes(d.error_code) || typeof d.error !== 'string' || !('camera' in d)) {
        failures.push(`${name}: expected error_code ${expected.join('|')}, got ${JSON.stringify(d).slice(0, 200)}`);
      }
    }
  }
  const sentAt = performance.now();
  assert.equal(n, 200, 'sent 200 malformed requests');
  // The requests take a fraction of a second; judge the frame rate over at
  // least 3 s from their start so one late frame cannot swing it.
  await sleep(Math.max(0, from + 3000 - sentAt));
  const to = performance.now();

  // The viewer kept its video throughout, and still does.
  const fps = viewer.decoded.fps(from, to);
  const f0 = viewer.frames;
  await sleep(1000);
  const f1 = viewer.frames;
  const infoAfter = await ctx.info();
  console.log(`# 200 malformed requests in ${((sentAt - from) / 1000).toFixed(1)} s; watcher decoded ${fps.toFixed(1)} pictures/s over ${((to - from) / 1000).toFixed(1)} s from their start, ` +
    `then ${f1 - f0} pictures in 1 s; failures ${failures.length}`);
  console.log(`# codes seen: ${JSON.stringify(seen)}`);
  assert.ok(ctx.janus.running, `Janus died during the malformed requests: ${ctx.janus.deathReport()}`);
  assert.deepEqual(failures, [], `wrong answers:\n${failures.join('\n')}\n${ctx.logExcerpt()}`);
  assert.ok(fps >= 25, `watcher decoded ${fps.toFixed(1)} pictures/s during the malformed requests`);
  // Clean from its join to now: a bad request disturbs no picture.
  assertCleanVideo(viewer, joinedAt, performance.now(), { minFps: 25, extra: ctx.logExcerpt() });
  assert.ok(f1 - f0 >= 20, `watcher decoded ${f1 - f0} pictures in the second after`);
  // A bad request changes nothing.
  assert.equal(infoAfter.viewers, 1, `viewers after: ${JSON.stringify(infoAfter)}`);
  assert.equal(infoAfter.encoder.bitrate, infoBefore.encoder.bitrate, 'bitrate changed by a rejected configure');
  assert.equal(infoAfter.source.fps, infoBefore.source.fps, 'fps changed by a rejected configure');
});
