// SPDX-License-Identifier: GPL-3.0-or-later
//
// Ours only: several cameras, snapshots and recording (issue 9), on one
// Janus configured with two pattern cameras, cam1 and cam2 (both on_demand,
// the plugin's default), each like the main run's camera.  In order:
//   1. nobody watches: CPU with both cameras configured and idle;
//   2. snapshots of cam1 while nobody watches (each starts the camera; the
//      next waits until it is idle again);
//   3. N werift viewers split over the two cameras (N/2 each): CPU, each
//      camera's slowest viewer;
//   4. the same N viewers all on cam1, cam2 unwatched (and checked idle):
//      CPU, slowest viewer: beside the main run's single camera at N, the
//      idle cost of a configured second camera;
//   5. still N on cam1: snapshots of cam1 at `snapRate`/s (each at a random
//      phase of the frame interval) over a CPU window (latency, stamp age,
//      bytes, the viewers' fps);
//   6. still N on cam1: admin `record` for recordS seconds with a CPU window
//      in it; then janus-pp-rec -> WebM -> frames counted and decoded.
// Returns the raw figures (results.json's servers.features); report() makes
// the Markdown table.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startJanus, CAMERA_SO, repoRoot } from './janus.mjs';
import { sleep } from './procs.mjs';
import { summary } from './stats.mjs';
import { ViewerPool, loadWindow } from './viewers.mjs';
import { Session } from '../../tests/integration/lib/api.mjs';
import { jcfg } from '../../tests/integration/lib/janus.mjs';
import { decodeWebm, mjrToWebm } from '../../tests/integration/lib/webm.mjs';

const JPEGCHECK = path.join(repoRoot, 'tests', 'tools', 'jpegcheck');
const ADMIN_KEY = 'bench-admin';
export const CAMS = ['cam1', 'cam2'];

const uint32 = (ms) => ms % 2 ** 32;
// The stamp's time is unix ms mod 2^32: a signed difference a - b.
const stampDiff = (a, b) => ((uint32(a) - uint32(b) + 2 ** 31 + 2 ** 32) % 2 ** 32) - 2 ** 31;

export async function measureFeatures({ dir, ip, iface, cameraKeys, fps, P, log }) {
  const F = P.features;
  const res = { n: F.n, errors: [] };
  const recDir = path.join(dir, 'recordings');
  const snapDir = path.join(dir, 'snapshots');
  fs.mkdirSync(snapDir, { recursive: true });
  const general = { ...cameraKeys, admin_key: `"${ADMIN_KEY}"`, record_dir: JSON.stringify(recDir), snapshot_rate: 100 };
  const janus = await startJanus({
    dir, plugins: [CAMERA_SO], ip, iface,
    files: { 'janus.plugin.camera.jcfg': jcfg(general, Object.fromEntries(CAMS.map((c) => [c, {}]))) },
  });
  const roots = () => [janus.pid];
  const target = (camera) => ({ kind: 'camera', url: janus.url, camera });
  const pools = Object.fromEntries(CAMS.map((c) => [c, new ViewerPool(target(c), { processes: 1, concurrency: 3 })]));
  let session = null;
  const snaps = [];
  const phase = async (name, fn) => {
    try {
      res[name] = await fn();
    } catch (e) {
      res.errors.push(`${name}: ${e.message}`);
      log(`features: ${name}: FAILED: ${e.message}`);
    }
  };
  try {
    session = await Session.create(janus.url);
    const handle = await session.attach('janus.plugin.camera');
    const request = async (body) => (await handle.message(body, { timeout: 10000 })).data;
    const state = async (camera) => (await request({ request: 'info', camera }))?.source?.state;
    const waitIdle = async (camera, ms = 8000) => {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if ((await state(camera)) === 'idle') return true;
      return false;
    };
    const grow = async (counts) => {
      for (const [c, n] of Object.entries(counts)) {
        const errs = await pools[c].growTo(n);
        if (errs.length) res.errors.push(`${c}: joining up to ${n}: ${errs.length} failed: ${errs[0]}`);
      }
      await sleep(P.settleS * 1000);
    };
    const snap = async (label) => {
      const sentAt = Date.now();
      const t0 = performance.now();
      const d = await request({ request: 'snapshot', camera: CAMS[0] });
      const s = { label, ms: performance.now() - t0, sentAt, bytes: d?.bytes ?? null, captured: d?.captured ?? null };
      if (d?.camera !== 'snapshot') s.error = JSON.stringify(d).slice(0, 200);
      else {
        s.file = path.join(snapDir, `${label}-${snaps.length}.jpg`);
        fs.writeFileSync(s.file, Buffer.from(d.data, 'base64'));
      }
      snaps.push(s);
    };

    await sleep(P.settleS * 1000);
    await phase('idle', async () => {
      const w = await loadWindow(roots(), {}, P.idleS);
      log(`features: 2 cameras configured, nobody watching: ${w.cpu.toFixed(1)}% CPU`);
      return w;
    });
    await phase('coldSnapshots', async () => {
      for (let i = 0; i < F.coldSnaps; i++) {
        if (!(await waitIdle(CAMS[0]))) throw new Error('cam1 not idle before a cold snapshot');
        await snap('idle');
      }
      return F.coldSnaps;
    });
    const half = Math.floor(F.n / 2);
    await phase('two', async () => {
      await grow({ [CAMS[0]]: half, [CAMS[1]]: F.n - half });
      const w = await loadWindow(roots(), pools, P.windowS);
      log(`features: ${half} + ${F.n - half} viewers on two cameras: ${w.cpu.toFixed(1)}% CPU, slowest ` +
        CAMS.map((c) => `${c} ${w.byPool[c].minFps?.toFixed(1)}`).join(', ') + ' fps');
      return w;
    });
    await pools[CAMS[1]].closeAll();
    const one = { [CAMS[0]]: pools[CAMS[0]] };
    await phase('one', async () => {
      const idle = await waitIdle(CAMS[1]);
      await grow({ [CAMS[0]]: F.n });
      const w = { ...(await loadWindow(roots(), one, P.windowS)), secondState: await state(CAMS[1]), secondWentIdle: idle };
      log(`features: ${F.n} viewers on cam1, cam2 ${w.secondState}: ${w.cpu.toFixed(1)}% CPU, slowest ${w.byPool[CAMS[0]].minFps?.toFixed(1)} fps`);
      return w;
    });
    await phase('snapshotLoad', async () => {
      const count = Math.round(F.snapRate * P.windowS);
      const w = await loadWindow(roots(), one, P.windowS, async () => {
        const t0 = performance.now();
        for (let i = 0; i < count; i++) {
          // A random phase within a frame interval: 5/s would otherwise
          // land every request at the same point between two captures.
          await sleep(Math.max(0, t0 + (i * 1000) / F.snapRate + Math.random() * (1000 / fps) - performance.now()));
          await snap('running');
        }
      });
      log(`features: ${count} snapshots at ${F.snapRate}/s with ${F.n} viewers: ${w.cpu.toFixed(1)}% CPU, slowest ${w.byPool[CAMS[0]].minFps?.toFixed(1)} fps`);
      return { ...w, count, rate: F.snapRate };
    });
    await phase('recording', async () => {
      const started = await request({ request: 'record', admin_key: ADMIN_KEY, camera: CAMS[0] });
      const t0 = performance.now();
      if (!started?.file) throw new Error(`record: ${JSON.stringify(started)}`);
      await sleep(1000);
      const w = await loadWindow(roots(), one, P.windowS);
      await sleep(Math.max(0, t0 + F.recordS * 1000 - performance.now()));
      const stopped = await request({ request: 'stop_record', admin_key: ADMIN_KEY, camera: CAMS[0] });
      const ranMs = performance.now() - t0;
      log(`features: recording with ${F.n} viewers: ${w.cpu.toFixed(1)}% CPU, slowest ${w.byPool[CAMS[0]].minFps?.toFixed(1)} fps; ` +
        `${(ranMs / 1000).toFixed(1)} s, ${stopped?.bytes} bytes`);
      return { ...w, file: stopped?.file ?? started.file, bytes: stopped?.bytes ?? null, ranMs };
    });
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.shutdown()));
    if (session) await session.destroy().catch(() => {});
    await janus.stop({ signal: 'SIGINT' });
  }

  // After Janus stopped: the JPEGs and the recording read back.
  res.snapshots = readSnapshots(snaps);
  if (res.recording?.file) {
    try {
      const { webm, decoded } = await decodeWebm(await mjrToWebm(res.recording.file));
      const f = webm.frames;
      Object.assign(res.recording, {
        frames: f.length, expected: (fps * res.recording.ranMs) / 1000,
        spanMs: f.length ? f.at(-1).timeMs - f[0].timeMs : 0, keyFrames: f.filter((x) => x.key).length,
        width: webm.width, height: webm.height, decoded: decoded.pictures, decodeErrors: decoded.errors + decoded.corrupt,
        counterGaps: decoded.counterGaps,
      });
      log(`features: recording: ${f.length} frames in the WebM for ${res.recording.expected.toFixed(0)} expected, ${decoded.pictures} decoded`);
    } catch (e) {
      res.errors.push(`recording read back: ${e.message.split('\n')[0]}`);
    }
  }
  return res;
}

// Decodes the snapshots' JPEGs with tests/tools/jpegcheck (libjpeg-turbo)
// and reads the pattern's stamp: each gets its size and `afterRequestMs`,
// the stamp's capture time minus the time the request was sent (> 0: a
// picture captured after the request).  Summaries per label.
function readSnapshots(snaps) {
  const files = snaps.filter((s) => s.file);
  let lines = [];
  if (files.length) {
    try {
      lines = execFileSync(JPEGCHECK, files.map((s) => s.file)).toString();
    } catch (e) {
      lines = e.stdout?.toString() || '';  // exits 1 if one did not decode; the others still count
    }
    lines = lines.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
  files.forEach((s, i) => {
    const d = lines[i] || {};
    Object.assign(s, { width: d.width, height: d.height, stamp: !!d.stamp });
    if (d.stamp) {
      s.afterRequestMs = stampDiff(d.time, s.sentAt);
      s.stampIsCaptured = d.time === uint32(s.captured);
    }
  });
  const by = {};
  for (const label of new Set(snaps.map((s) => s.label))) {
    const xs = snaps.filter((s) => s.label === label);
    const ok = xs.filter((s) => s.stamp);
    by[label] = {
      n: xs.length, failed: xs.filter((s) => s.error).length, unreadable: xs.filter((s) => s.file && !s.stamp).length,
      latency: summary(xs.filter((s) => !s.error).map((s) => s.ms)),
      afterRequest: summary(ok.map((s) => s.afterRequestMs)),
      afterRequestMin: ok.length ? Math.min(...ok.map((s) => s.afterRequestMs)) : null,
      bytes: summary(xs.map((s) => s.bytes)),
      sizes: [...new Set(ok.map((s) => `${s.width}x${s.height}`))],
      stampMismatch: ok.filter((s) => !s.stampIsCaptured).length,
    };
  }
  return { by, each: snaps.map(({ file, ...s }) => s) };
}

// The Markdown lines for these figures: three small tables.  `ours` is the
// main run's single-camera result (its points at 0 and N viewers).
export function featuresReport(F, { ours, P, fps, size }) {
  const f = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const sign = (x, d = 1) => {
    if (!Number.isFinite(x)) return '–';
    const s = x.toFixed(d);
    return Number(s) === 0 ? `±${(0).toFixed(d)}` : `${x > 0 ? '+' : ''}${s}`;
  };
  const fpsOf = (w, c = CAMS[0]) => {
    const x = w?.byPool?.[c];
    if (!x) return '–';
    return `${f(x.minFps)}${x.joined < x.viewers ? ` (${x.viewers - x.joined} of ${x.viewers} did not join)` : ''}`;
  };
  const n = F.n;
  const half = Math.floor(n / 2);
  const point = (v) => (ours?.points || []).find((p) => p.viewers === v);
  const lines = [];
  if (F.error) return [`Two cameras, snapshots, recording: FAILED: ${F.error}`];
  const tbl = (head, rows) => lines.push('', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`));
  const o0 = point(0), oN = point(n);
  tbl([`ours, ${size} @ ${fps} fps pattern cameras (on_demand)`, 'viewers (werift)', 'server CPU (% of one core)', 'slowest viewer fps'], [
    ['1 camera configured (the main run above)', '0', f(o0?.cpu), '–'],
    ['1 camera configured (the main run above)', String(n), f(oN?.cpu), f(oN?.minFps)],
    ['2 cameras configured, none watched', '0', f(F.idle?.cpu), '–'],
    [`2 cameras configured, cam2 unwatched (cam2: ${F.one?.secondState ?? '?'})`, `${n} on cam1`, f(F.one?.cpu), `cam1 ${fpsOf(F.one)}`],
    ['2 cameras, both watched', `${half} on cam1 + ${n - half} on cam2`, f(F.two?.cpu), CAMS.map((c) => `${c} ${fpsOf(F.two, c)}`).join(', ')],
    ['→ idle cost of the unwatched second camera (2 configured − 1 configured)', `0 / ${n}`,
      `${sign(F.idle?.cpu - o0?.cpu)} / ${sign(F.one?.cpu - oN?.cpu)}`, ''],
    ['→ cost of running the second camera (both watched − one watched)', String(n), sign(F.two?.cpu - F.one?.cpu), ''],
  ]);
  const sb = F.snapshots?.by || {};
  const snapRow = (label, what) => {
    const x = sb[label];
    if (!x) return [what, '–', '–', '–', '–'];
    const bad = [x.failed && `${x.failed} refused`, x.unreadable && `${x.unreadable} unreadable`,
      x.stampMismatch && `${x.stampMismatch} stamp ≠ captured`].filter(Boolean);
    return [what + (bad.length ? ` (${bad.join(', ')})` : ''), `${x.n} (${x.sizes.join(', ') || '?'})`,
      `${f(x.latency.median, 0)} / ${f(x.latency.p95, 0)}`,
      `${f(x.afterRequest.median, 0)} / ${f(x.afterRequest.p95, 0)} (min ${f(x.afterRequestMin, 0)})`, f(x.bytes.median, 0)];
  };
  const sl = F.snapshotLoad;
  tbl(['ours, `snapshot` of cam1 (full size, default quality)', 'snapshots (JPEG size)', 'request → reply, median / p95 (ms)',
    'picture captured after the request, median / p95 (ms)', 'JPEG bytes, median'], [
    snapRow('idle', 'camera idle: each starts the on-demand camera'),
    snapRow('running', `camera running: ${n} viewers watch, ${sl?.rate ?? '?'}/s for ${P.windowS} s`),
  ]);
  lines.push('', `Snapshots at ${sl?.rate ?? '?'}/s while ${n} viewers watch cam1: server CPU ${f(F.one?.cpu)} → ${f(sl?.cpu)} % of one core ` +
    `(${sign(sl?.cpu - F.one?.cpu)}); slowest viewer ${fpsOf(F.one)} → ${fpsOf(sl)} fps.`);
  const rec = F.recording;
  tbl([`ours, admin \`record\` of cam1 while ${n} viewers watch`, 'server CPU (% of one core)', 'slowest viewer fps', 'frames in the file'], [
    ['record off', f(F.one?.cpu), fpsOf(F.one), '–'],
    [`record on (${f(rec?.ranMs / 1000)} s)`, `${f(rec?.cpu)} (${sign(rec?.cpu - F.one?.cpu)})`, fpsOf(rec),
      rec?.frames !== undefined ? `${rec.frames} for ${f(rec.expected, 0)} expected (${fps} fps × ${f(rec.ranMs / 1000)} s); ` +
        `${f(rec.spanMs / 1000, 2)} s of frames (${f(rec.spanMs > 0 ? ((rec.frames - 1) * 1000) / rec.spanMs : null)} fps), ` +
        `${rec.keyFrames} key, ${rec.width}x${rec.height}, ${rec.decoded} decoded, ` +
        `${rec.counterGaps} camera frames missing` : '–'],
  ]);
  for (const e of F.errors || []) lines.push('', `features error: ${e.replace(/\|/g, '/').slice(0, 200)}`);
  return lines;
}
