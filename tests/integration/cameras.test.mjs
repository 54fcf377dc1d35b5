// SPDX-License-Identifier: GPL-3.0-or-later
//
// Several cameras in one plugin, against the real Janus with werift viewers
// that decode what they receive: two pattern cameras of different sizes and
// rates watched at once (each viewer decodes its own camera's size, and the
// stamps show the two are independent), a camera whose source fails beside
// one that keeps its full frame rate, the `cameras`, `info` and `list`
// answers per camera, admin requests naming their camera, and malformed
// camera sections that keep the plugin from loading.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setupJanus } from './lib/setup.mjs';
import { jcfg, startJanus } from './lib/janus.mjs';
import { PLUGIN, Viewer, assertCleanVideo, videoReport } from './lib/viewer.mjs';
import { inTestNamespace, makeTmpDir, sleep, waitFor } from './lib/util.mjs';

const ADMIN_KEY = 'admin-sekret';
const GENERAL = { admin_key: `"${ADMIN_KEY}"` };
const TWO = {
  front: { description: '"Front"', width: 640, height: 480, fps: 30 },
  rear: { description: '"Rear"', width: 320, height: 240, fps: 15, pin: '"rear-pin"' },
};

async function setup(t, cameras, general = GENERAL) {
  const ctx = await setupJanus(t, { raw: jcfg(general, cameras) });
  ctx.newViewer = (name, camera) => {
    const v = new Viewer({ url: ctx.janus.url, name, camera });
    ctx.cleanups.push(() => v.close());
    return v;
  };
  ctx.request = async (body) => (await ctx.adminHandle.message(body)).data;
  ctx.adminReq = async (body) => ctx.request({ admin_key: ADMIN_KEY, ...body });
  return ctx;
}

// The counters two viewers decoded in [from, to): how many pictures and the
// counter values they share.
function counters(v, from, to) {
  return v.decoded.between(from, to).map((p) => p.counter).filter((c) => c !== null);
}

test('two pattern cameras of different sizes watched at once: each viewer decodes its own camera, at its own rate, with its own stamps',
  { timeout: 90000 }, async (t) => {
    const ctx = await setup(t, TWO);
    const f1 = ctx.newViewer('front-1', 'front');
    const f2 = ctx.newViewer('front-2');          // no camera: the first one
    const r1 = ctx.newViewer('rear-1', 'rear');
    await Promise.all([f1.join(), f2.join(), r1.join({ pin: 'rear-pin' })]);
    assert.equal(f1.events[0]?.result?.camera, 'front', `watch answer names the camera: ${JSON.stringify(f1.events[0])}`);
    assert.equal(r1.events[0]?.result?.camera, 'rear');
    await Promise.all([f1, f2, r1].map((v) => v.waitFrames(10, 10000)));
    await sleep(500);
    const from = performance.now();
    await sleep(5000);
    const to = performance.now();
    const a = assertCleanVideo(f1, from, to, { minFps: 25 });
    const b = assertCleanVideo(f2, from, to, { minFps: 25 });
    const c = assertCleanVideo(r1, from, to, { minFps: 12, width: 320, height: 240 });
    console.log(`# front: ${a.fps.toFixed(1)} and ${b.fps.toFixed(1)} fps at ${a.sizes}; rear: ${c.fps.toFixed(1)} fps at ${c.sizes}`);
    assert.ok(c.fps < 18, `rear runs at its own 15 fps, not front's: ${c.fps.toFixed(1)}`);
    // The two front viewers see the same stream (one encoder); the rear one
    // its own: its counter runs at half the rate, from its own start.
    const fc = counters(f1, from, to), gc = counters(f2, from, to), rc = counters(r1, from, to);
    assert.ok(fc.filter((x) => gc.includes(x)).length > fc.length * 0.9, 'the two front viewers decode the same frames');
    const frontStep = (fc.at(-1) - fc[0]) / ((to - from) / 1000);
    const rearStep = (rc.at(-1) - rc[0]) / ((to - from) / 1000);
    console.log(`# stamps: front counter ${fc[0]}..${fc.at(-1)} (${frontStep.toFixed(1)}/s), rear ${rc[0]}..${rc.at(-1)} (${rearStep.toFixed(1)}/s)`);
    assert.ok(frontStep > 25 && rearStep > 12 && rearStep < 18, 'each camera counts its own frames at its own rate');

    // info, per camera; list says who watches which.
    const fi = await ctx.request({ request: 'info', camera: 'front' });
    const ri = await ctx.request({ request: 'info', camera: 'rear' });
    assert.equal(fi.id, 'front');
    assert.equal(fi.description, 'Front');
    assert.equal(fi.viewers, 2);
    assert.deepEqual([fi.source.width, fi.source.height, fi.source.fps], [640, 480, 30]);
    assert.equal(ri.id, 'rear');
    assert.equal(ri.viewers, 1);
    assert.deepEqual([ri.source.width, ri.source.height, ri.source.fps], [320, 240, 15]);
    assert.ok(ri.encoder.frames > 0 && fi.encoder.frames > ri.encoder.frames * 1.5, `encoders: ${fi.encoder.frames} / ${ri.encoder.frames}`);
    assert.equal((await ctx.info()).id, 'front', 'info without camera is the first camera');
    const all = await ctx.adminReq({ request: 'list' });
    const byId = Object.fromEntries(all.viewers.map((v) => [v.id, v.camera]));
    assert.deepEqual(byId, { [f1.id]: 'front', [f2.id]: 'front', [r1.id]: 'rear' }, `list: ${JSON.stringify(all)}`);
    const rearOnly = await ctx.adminReq({ request: 'list', camera: 'rear' });
    assert.deepEqual(rearOnly.viewers.map((v) => v.id), [r1.id]);

    // `cameras`: what anyone may know, without the pin itself.
    const cams = await ctx.request({ request: 'cameras' });
    console.log(`# cameras: ${JSON.stringify(cams)}`);
    assert.deepEqual(cams.cameras.map((c) => [c.id, c.description, c.width, c.height, c.fps, c.viewers, c.pin]),
      [['front', 'Front', 640, 480, 30, 2, false], ['rear', 'Rear', 320, 240, 15, 1, true]]);
    assert.ok(!JSON.stringify(cams).includes('rear-pin'), 'the pin is not revealed');

    // configure acts on the camera it names, and only there.
    const cf = await ctx.adminReq({ request: 'configure', camera: 'rear', fps: 10 });
    assert.equal(cf.camera, 'ok', JSON.stringify(cf));
    assert.equal(cf.applied.fps, 10);
    await sleep(1500);
    const from2 = performance.now();
    await sleep(3000);
    const to2 = performance.now();
    const a2 = assertCleanVideo(f1, from2, to2, { minFps: 25, extra: 'front after rear was set to 10 fps' });
    const c2 = videoReport(r1, from2, to2);
    console.log(`# after configure rear fps 10: front ${a2.fps.toFixed(1)} fps, rear ${c2.fps.toFixed(1)} fps`);
    assert.ok(c2.fps > 7 && c2.fps < 12.5, `rear at 10 fps: ${c2.fps}`);
    assert.equal((await ctx.request({ request: 'info', camera: 'front' })).source.fps, 30);

    // Stopping the front viewers leaves the rear one alone; with on_demand the
    // front encoder stops.
    await Promise.all([f1.stop(), f2.stop()]);
    await sleep(1000);
    const n0 = (await ctx.request({ request: 'info', camera: 'front' })).encoder.frames;
    const rearBefore = r1.frames;
    await sleep(1000);
    assert.equal((await ctx.request({ request: 'info', camera: 'front' })).encoder.frames, n0, 'front encodes nothing without viewers');
    assert.ok(r1.frames - rearBefore >= 7, `rear decoded ${r1.frames - rearBefore} pictures in 1 s after front stopped`);
  });

test('a camera whose source fails leaves the other at full frame rate; its viewers hear of it, naming the camera', { timeout: 90000 }, async (t) => {
  // A regular file where the second camera should be: it opens, but is no camera.
  const dir = makeTmpDir('twocams');
  const device = path.join(dir, 'video0');
  fs.writeFileSync(device, 'not a camera\n');
  // A werift viewer that receives no RTP sends no RTCP either, and would be
  // dropped as silent after liveness_ms: give it longer than the test.
  const ctx = await setup(t, {
    good: { width: 640, height: 480 },
    broken: { source: '"v4l2"', device: JSON.stringify(device) },
  }, { ...GENERAL, liveness_ms: 60000 });
  const g = ctx.newViewer('good', 'good');
  const b = ctx.newViewer('broken', 'broken');
  await Promise.all([g.join(), b.join()]);
  const ev = await b.waitEvent('source', 5000);
  console.log(`# source event of the broken camera: ${JSON.stringify(ev.result)}`);
  assert.equal(ev.result.camera, 'broken');
  assert.equal(ev.result.state, 'error');
  await g.waitFrames(10, 10000);
  // The broken camera keeps failing and retrying (and the file goes away,
  // a second failure) while the good one is measured.
  const from = performance.now();
  await sleep(2000);
  fs.rmSync(device);
  await sleep(3000);
  const to = performance.now();
  const r = assertCleanVideo(g, from, to, { minFps: 25 });
  console.log(`# good camera: ${r.fps.toFixed(1)} fps while the other failed; broken decoded ${b.frames} pictures`);
  assert.equal(b.frames, 0);
  assert.ok(!g.events.some((e) => e?.result?.event === 'source'), `the good camera's viewer heard nothing: ${JSON.stringify(g.events)}`);
  // Between its retries the broken camera's state may read idle for a moment.
  await waitFor(async () => (await ctx.request({ request: 'info', camera: 'broken' })).source.state === 'error',
    { timeout: 3000, what: 'info of the broken camera: error' });
  assert.equal((await ctx.request({ request: 'info', camera: 'good' })).source.state, 'running');
  await waitFor(async () => (await ctx.request({ request: 'cameras' })).cameras.map((c) => c.state).join() === 'running,error',
    { timeout: 3000, what: 'cameras: running,error' });
});

test('requests that name cameras: unknown ids, missing camera for admin changes, pins per camera, kick on the wrong camera', { timeout: 60000 }, async (t) => {
  const ctx = await setup(t, TWO);
  const v = await ctx.newViewer('v', 'front').join();
  const cases = [
    [{ request: 'watch', camera: 'side' }, 484],
    [{ request: 'watch', camera: 7 }, 484],
    [{ request: 'watch', camera: 'x'.repeat(33) }, 484],
    [{ request: 'watch', camera: 'rear' }, 486],
    [{ request: 'watch', camera: 'rear', pin: 'wrong' }, 486],
    [{ request: 'info', camera: 'side' }, 484],
    [{ request: 'configure', admin_key: ADMIN_KEY, fps: 10 }, 483],
    [{ request: 'configure', admin_key: ADMIN_KEY, camera: 'side', fps: 10 }, 484],
    [{ request: 'configure', camera: 'front', fps: 10 }, 486],
    [{ request: 'list', admin_key: ADMIN_KEY, camera: 'side' }, 484],
    [{ request: 'kick', admin_key: ADMIN_KEY, id: v.id, camera: 'rear' }, 484],
  ];
  const w = new Viewer({ url: ctx.janus.url, name: 'probe' });
  ctx.cleanups.push(() => w.close());
  await w.connect();
  for (const [body, code] of cases) {
    const r = await w.handle.message(body, { timeout: 5000 });
    assert.equal(r.data?.error_code, code, `${JSON.stringify(body)} -> ${JSON.stringify(r.data)}`);
    assert.ok(!r.jsep, 'no offer with an error');
  }
  // Nothing changed: the probe is no viewer, v still watches front.
  const fi = await ctx.request({ request: 'info', camera: 'front' });
  assert.equal(fi.viewers, 1);
  assert.equal(fi.source.fps, 30);
  assert.equal((await ctx.request({ request: 'info', camera: 'rear' })).viewers, 0);
  // The right pin lets the probe watch rear.
  await w.join({ camera: 'rear', pin: 'rear-pin' });
  await w.waitFrames(5, 10000);
  assert.equal(w.decoded.between(0).at(-1).w, 320);
  // kick naming the right camera works.
  assert.equal((await ctx.adminReq({ request: 'kick', id: v.id, camera: 'front' })).camera, 'ok');
  await v.waitEvent('kicked', 5000);
});

test('malformed camera sections keep the plugin from loading, and the log names the camera and the key', { timeout: 90000 }, async (t) => {
  assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
  const cases = [
    ['unknown key', { front: { widht: 640 } }, /camera "front".*widht/],
    ['bad value', { front: { fps: 500 } }, /camera "front".*fps/],
    ['plugin-wide key in a camera', { rear: { admin_key: '"x"' } }, /camera "rear".*admin_key.*general/],
    ['odd size', { side: { width: 641 } }, /camera "side".*even/],
    ['v4l2 without an absolute device', { arm: { source: '"v4l2"', device: '"video0"' } }, /camera "arm".*device/],
  ];
  for (const [name, cameras, re] of cases) {
    const janus = await startJanus({ raw: jcfg(GENERAL, cameras), name: `badcam-${name.replace(/\W+/g, '-')}` });
    try {
      const fatal = janus.grep(/\[camera\]/);
      assert.ok(!janus.pluginPackages.includes(PLUGIN), `${name}: the camera plugin loaded anyway`);
      assert.match(fatal, re, `${name}: the log does not say why:\n${janus.tail(30)}`);
      console.log(`# ${name}: ${fatal.split('\n').find((l) => re.test(l))?.trim()}`);
    } finally {
      await janus.stopAndCheck();
    }
  }
});
