// SPDX-License-Identifier: GPL-3.0-or-later
//
// Snapshots against the real Janus: the JPEG a `snapshot` request returns is
// decoded back with libjpeg-turbo (tests/tools/jpegcheck, not the plugin's
// code), must have the right size and carry the test pattern's stamp, no
// older than two frame intervals when asked; scaled snapshots; an on-demand
// camera nobody watches started just long enough; 50 snapshots while 10
// werift viewers watch do not lower their decoded frame rate; the per-handle
// rate limit; and bad requests answered with their codes, changing nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setupJanus } from './lib/setup.mjs';
import { jcfg } from './lib/janus.mjs';
import { Viewer, assertCleanVideo, videoReport } from './lib/viewer.mjs';
import { makeTmpDir, median, repoRoot, sleep, waitFor } from './lib/util.mjs';

const JPEGCHECK = path.join(repoRoot, 'tests', 'tools', 'jpegcheck');
const FRAME_MS = 1000 / 30;

// Decodes the snapshot answers' JPEGs with jpegcheck; one result each.
function decodeJpegs(dir, answers) {
  const files = answers.map((a, i) => {
    const f = path.join(dir, `snap-${i}.jpg`);
    fs.writeFileSync(f, Buffer.from(a.data, 'base64'));
    return f;
  });
  const out = execFileSync(JPEGCHECK, files).toString().trim().split('\n');
  return out.map((l) => JSON.parse(l));
}

async function setup(t, general = {}, cameras) {
  const opts = cameras ? { raw: jcfg(general, cameras) } : { set: general };
  const ctx = await setupJanus(t, opts);
  ctx.dir = makeTmpDir('snapshots');
  ctx.newViewer = (name, camera) => {
    const v = new Viewer({ url: ctx.janus.url, name, camera });
    ctx.cleanups.push(() => v.close());
    return v;
  };
  // A handle of its own per caller (the rate limit is per handle).
  ctx.caller = async (name) => {
    const v = ctx.newViewer(name);
    await v.connect();
    return v;
  };
  return ctx;
}

// One snapshot request with its round-trip time and the time it was sent.
async function snap(handle, body = {}) {
  const sentAt = Date.now();
  const t0 = performance.now();
  const r = await handle.message({ request: 'snapshot', ...body }, { timeout: 10000 });
  return { data: r.data, ms: performance.now() - t0, sentAt };
}

const uint32 = (ms) => ms % 2 ** 32;

test('snapshot: a JPEG of the newest picture, right size, stamp no older than two frame intervals; scaled; on demand',
  { timeout: 90000 }, async (t) => {
    const ctx = await setup(t);
    const c = await ctx.caller('caller');
    // Nobody watches: the on-demand camera starts for the snapshot, then stops.
    assert.equal((await ctx.info()).source.state, 'idle');
    const cold = await snap(c.handle);
    assert.equal(cold.data?.camera, 'snapshot', JSON.stringify(cold.data).slice(0, 300));
    console.log(`# snapshot with the camera off: ${cold.ms.toFixed(0)} ms, ${cold.data.bytes} bytes`);
    await waitFor(async () => (await ctx.info()).source.state === 'idle', { timeout: 3000, what: 'camera idle again after the snapshot' });

    const v = await ctx.newViewer('v').join();
    await v.waitFrames(10, 10000);
    const answers = [];
    for (let i = 0; i < 8; i++) {
      answers.push(await snap(c.handle, i % 2 ? { width: 320 } : {}));
      await sleep(600);  // within snapshot_rate (2/s)
    }
    const decoded = decodeJpegs(ctx.dir, answers.map((a) => a.data));
    for (const [i, d] of decoded.entries()) {
      const a = answers[i];
      const want = i % 2 ? [320, 240] : [640, 480];
      assert.deepEqual([d.width, d.height], want, `snapshot ${i}: ${JSON.stringify(d)}`);
      assert.deepEqual([a.data.width, a.data.height], want);
      assert.equal(a.data.format, 'jpeg');
      assert.equal(a.data.id, 'default');
      assert.equal(a.data.bytes, Buffer.from(a.data.data, 'base64').length);
      assert.ok(d.stamp, `snapshot ${i}: the stamp reads back from the JPEG: ${JSON.stringify(d)}`);
      assert.equal(d.time, uint32(a.data.captured), 'the stamp is the capture time the answer gives');
      const age = uint32(a.sentAt) - d.time;   // picture captured this long before the request
      assert.ok(age <= 2 * FRAME_MS, `snapshot ${i}: picture ${age} ms older than the request`);
    }
    const ages = answers.map((a, i) => uint32(a.sentAt) - decoded[i].time);
    const counters = decoded.map((d) => d.counter);
    assert.ok(counters.every((x, i) => i === 0 || x > counters[i - 1]), `counters increase: ${counters}`);
    console.log(`# snapshot latency (request -> reply): median ${median(answers.map((a) => a.ms)).toFixed(0)} ms ` +
      `(${answers.map((a) => a.ms.toFixed(0)).join(' ')}); stamp minus request time: ${ages.map((x) => -x).join(' ')} ms (the next captured picture); ` +
      `sizes ${answers.map((a) => a.data.bytes).join(' ')} bytes`);
  });

test('50 snapshots while 10 viewers watch: their decoded frame rate stays', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t, { snapshot_rate: 100 });
  const vs = await Promise.all(Array.from({ length: 10 }, (_, i) => ctx.newViewer(`v${i}`).join()));
  await Promise.all(vs.map((v) => v.waitFrames(10, 15000)));
  const callers = await Promise.all(Array.from({ length: 5 }, (_, i) => ctx.caller(`c${i}`)));
  await sleep(1000);
  // The same viewers over a window as long as the snapshots take, without
  // them: what "their frame rate" is on this machine right now.
  const base0 = performance.now();
  await sleep(4500);
  const base1 = performance.now();
  const from = performance.now();
  const results = await Promise.all(callers.map(async (c) => {
    const out = [];
    for (let i = 0; i < 10; i++) {
      out.push(await snap(c.handle, i % 2 ? { width: 160 } : {}));
      await sleep(300);
    }
    return out;
  }));
  const to = performance.now();
  const all = results.flat();
  const ok = all.filter((a) => a.data?.camera === 'snapshot');
  console.log(`# ${ok.length}/50 snapshots in ${((to - from) / 1000).toFixed(1)} s, latency median ` +
    `${median(all.map((a) => a.ms)).toFixed(0)} ms, max ${Math.max(...all.map((a) => a.ms)).toFixed(0)} ms`);
  assert.equal(ok.length, 50, JSON.stringify(all.find((a) => a.data?.camera !== 'snapshot')?.data));
  // Every frame reaches every viewer (no counter skipped, no packet lost),
  // and the rate is what it was just before without snapshots (a loaded
  // machine lowers both windows alike; a blocked pipeline only this one).
  const before = vs.map((v) => videoReport(v, base0, base1));
  const reports = vs.map((v) => assertCleanVideo(v, from, to, { minFps: 20 }));
  console.log(`# viewers' fps before the snapshots: ${before.map((r) => r.fps.toFixed(1)).join(' ')}; ` +
    `during: ${reports.map((r) => r.fps.toFixed(1)).join(' ')}`);
  reports.forEach((r, i) => assert.ok(r.fps >= before[i].fps - 2.5,
    `${r.name}: ${r.fps.toFixed(1)} fps during the snapshots, ${before[i].fps.toFixed(1)} before`));
  const decoded = decodeJpegs(ctx.dir, ok.map((a) => a.data));
  assert.ok(decoded.every((d) => d.stamp), 'every snapshot carries a readable stamp');
});

test('snapshot rate limit per handle, bad fields, pins, unknown cameras and a camera that is down', { timeout: 60000 }, async (t) => {
  const dir = makeTmpDir('nocam');
  const device = path.join(dir, 'video0');
  fs.writeFileSync(device, 'not a camera\n');
  const ctx = await setup(t, {}, {
    front: { pin: '"p"' },
    broken: { source: '"v4l2"', device: JSON.stringify(device) },
  });
  const a = await ctx.caller('a');
  const b = await ctx.caller('b');
  // Two a second per handle (burst 2): the third at once is 490, another
  // handle is not affected.
  const burst = [];
  for (let i = 0; i < 4; i++) burst.push((await snap(a.handle, { pin: 'p' })).data);
  assert.deepEqual(burst.map((d) => d.camera === 'snapshot' ? 'ok' : d.error_code), ['ok', 'ok', 490, 490], JSON.stringify(burst.map((d) => d.error)));
  assert.equal((await snap(b.handle, { pin: 'p' })).data?.camera, 'snapshot', 'another handle has its own budget');
  await sleep(1100);
  const cases = [
    [{ pin: 'p', width: 321 }, 484],
    [{ pin: 'p', width: 8 }, 484],
    [{ pin: 'p', width: 1280 }, 484],
    [{ pin: 'p', width: '320' }, 484],
    [{ pin: 'p', quality: 0 }, 484],
    [{ pin: 'p', quality: 101 }, 484],
    [{}, 486],
    [{ pin: 'wrong' }, 486],
    [{ camera: 'side' }, 484],
    [{ camera: 'broken' }, 488],
  ];
  for (const [body, code] of cases) {
    await sleep(550);
    const r = await snap(a.handle, body);
    assert.equal(r.data?.error_code, code, `${JSON.stringify(body)} -> ${JSON.stringify(r.data)}`);
    if (code === 488) console.log(`# snapshot of a camera that is down: ${r.ms.toFixed(0)} ms, ${r.data.error}`);
  }
  assert.ok(ctx.janus.running);
  const i = await ctx.info();
  assert.equal(i.viewers, 0, 'no snapshot made a viewer');
});
