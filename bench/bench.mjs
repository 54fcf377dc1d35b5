// SPDX-License-Identifier: GPL-3.0-or-later
//
// The benchmark proper (bench/run sets up the machine and the namespace, then
// runs this inside it).  Three servers in turn, each sending the project's
// stamped test pattern at 640x480, 30 fps, ~1 Mbit/s VP8:
//   ours            Janus + janus.plugin.camera (encode once, fan out)
//   relay           Janus + the stock streaming plugin, fed by GStreamer vp8enc
//   per-connection  aiortc, one PeerConnection and one encoder per viewer
// For each: server CPU and slowest viewer's frame rate at 1..30 werift
// viewers, time to first frame and glass-to-glass latency in Chromium, Janus
// RSS; for ours also RSS over 1,000 join/leave cycles, 1280x720 CPU, and
// (lib/features.mjs) two cameras, snapshots and recording.
//
//   node bench/bench.mjs --out DIR --bin DIR [--quick] [--only ours,relay,per-connection,features]
//
// Writes DIR/results.json, DIR/results.md, DIR/cpu.png (if gnuplot is there),
// and prints the Markdown table.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startJanus, streamingConfig, CAMERA_SO, STREAMING_SO, repoRoot } from './lib/janus.mjs';
import { spawnGroup, cpuWindow, rssKiB, sleep, killAllStarted } from './lib/procs.mjs';
import { summary, r1 } from './lib/stats.mjs';
import { ViewerPool, loadWindow } from './lib/viewers.mjs';
import { launch, timeToFirstFrame, glassToGlass } from './lib/chromium.mjs';
import { joinLeaveCycles } from './lib/cycles.mjs';
import { measureFeatures, featuresReport } from './lib/features.mjs';

const SERVER_IP = '10.10.0.1';
const IFACE = 'tst0';
const W = 640, H = 480, FPS = 30, BITRATE = 1000000, KF_SECONDS = 10;

// ---- options -----------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const QUICK = argv.includes('--quick');
const OUT = path.resolve(opt('--out', path.join(repoRoot, 'results', 'bench', 'manual')));
const BIN = path.resolve(opt('--bin', OUT));
const ONLY = (opt('--only', 'ours,relay,per-connection')).split(',');
// Several cameras, snapshots, recording: ours only, with ours (or alone: --only features).
const FEATURES = ONLY.includes('ours') || ONLY.includes('features');
const PATTERN = path.join(BIN, 'pattern-pipe');

// Full run: the issue's figures.  Quick: the same steps, smaller, for
// developing on a shared machine.
const P = QUICK ? {
  counts: [1, 4], perconCounts: [1, 2], windowS: 4, settleS: 2, idleS: 3,
  joins: 5, frames: 100, cycles: { signalling: 90, full: 10 }, hdWindowS: 4,
  features: { n: 4, coldSnaps: 5, snapRate: 5, recordS: 8 },
} : {
  counts: [1, 10, 30], perconCounts: [1, 2, 4, 10, 30], windowS: 15, settleS: 3, idleS: 5,
  joins: 20, frames: 400, cycles: { signalling: 950, full: 50 }, hdWindowS: 15,
  features: { n: 10, coldSnaps: 20, snapRate: 5, recordS: 20 },
};

// --report-only: rebuild the table and the plot from an earlier results.json
// (e.g. after a change to the report), without measuring anything.
if (argv.includes('--report-only')) {
  const R = JSON.parse(fs.readFileSync(path.join(OUT, 'results.json'), 'utf8'));
  Object.assign(P, R.params);
  const { table, targets } = report(R);
  R.targets = targets;
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(R, null, 2));
  fs.writeFileSync(path.join(OUT, 'results.md'), table);
  plot(R);
  console.log(table);
  process.exit(0);
}
fs.mkdirSync(OUT, { recursive: true });
const logDir = path.join(OUT, 'logs');
fs.mkdirSync(logDir, { recursive: true });
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

// Every process we started goes when we go, whatever the reason.
process.on('exit', killAllStarted);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { killAllStarted(); process.exit(130); });
}

function vp8encPipeline({ port, rtcpPort, rtcpLocal }) {
  // The relay's encoder: GStreamer's vp8enc with libvpx's realtime settings
  // and the same rate control and key-frame interval as our encoder
  // (plugin/encoder.c: CBR, no lag, q 2..56, undershoot/overshoot 100/15,
  // buffer 500/600/1000 ms, cpu-used -6).  rtpbin sends RTCP sender reports
  // to the mountpoint's RTCP port from rtcpLocal, where its udpsrc listens:
  // Janus sends viewers' PLIs back to that address and rtpbin turns them into
  // a force-key-unit event for vp8enc.
  return [
    `${PATTERN} ${W} ${H} ${FPS} 3600`,
    '|',
    'gst-launch-1.0 -q',
    'fdsrc fd=0', '!', `rawvideoparse width=${W} height=${H} format=i420 framerate=${FPS}/1`, '!',
    `vp8enc deadline=1 cpu-used=-6 end-usage=cbr target-bitrate=${BITRATE} keyframe-max-dist=${KF_SECONDS * FPS}`,
    'error-resilient=0 lag-in-frames=0 min-quantizer=2 max-quantizer=56 undershoot=100 overshoot=15',
    'buffer-initial-size=500 buffer-optimal-size=600 buffer-size=1000', '!',
    'rtpvp8pay mtu=1200 picture-id-mode=15-bit pt=96', '!', 'rb.send_rtp_sink_0',
    'rtpbin name=rb',
    `rb.send_rtp_src_0 ! udpsink host=127.0.0.1 port=${port} sync=false async=false`,
    `rb.send_rtcp_src_0 ! udpsink host=127.0.0.1 port=${rtcpPort} bind-port=${rtcpLocal} sync=false async=false`,
    `udpsrc address=127.0.0.1 port=${rtcpLocal} ! rb.recv_rtcp_sink_0`,
  ].join(' ');
}

// ---- the servers -------------------------------------------------------------------
// Our camera's keys (janus.plugin.camera.jcfg): the pattern at the bench's settings.
const cameraKeys = ({ width = W, height = H } = {}) => ({
  source: '"pattern"', width, height, fps: FPS, bitrate: BITRATE, keyframe_interval: KF_SECONDS,
});

async function startOurs({ width = W, height = H, tag = 'ours' } = {}) {
  const janus = await startJanus({
    dir: path.join(logDir, `janus-${tag}`),
    plugins: [CAMERA_SO],
    set: Object.entries(cameraKeys({ width, height })).map(([k, v]) => `${k}=${v}`),
    ip: SERVER_IP, iface: IFACE,
  });
  return {
    name: 'ours', janus, roots: () => [janus.pid],
    target: { kind: 'camera', url: janus.url },
    page: 'server=camera',
    async stop() { await janus.stop({ signal: 'SIGINT' }); },
  };
}

async function startRelay() {
  const janus = await startJanus({
    dir: path.join(logDir, 'janus-relay'),
    plugins: [STREAMING_SO],
    files: { 'janus.plugin.streaming.jcfg': streamingConfig({ port: 5004, rtcpPort: 5005 }) },
    ip: SERVER_IP, iface: IFACE,
  });
  const gst = spawnGroup('sh', ['-c', vp8encPipeline({ port: 5004, rtcpPort: 5005, rtcpLocal: 5007 })],
    { logFile: path.join(logDir, 'gst-relay.log') });
  await sleep(1500);
  if (!gst.running) throw new Error('the GStreamer pipeline exited; see logs/gst-relay.log');
  return {
    name: 'relay', janus, gst, roots: () => [janus.pid, gst.pid],
    target: { kind: 'streaming', url: janus.url, id: 1 },
    page: 'server=streaming&id=1',
    async stop() { await gst.stop(); await janus.stop({ signal: 'SIGINT' }); },
  };
}

async function startPercon() {
  const port = 8090;
  const py = spawnGroup('/usr/bin/python3', [path.join(repoRoot, 'bench', 'percon.py'), '--listen', SERVER_IP,
    '--port', String(port), '--pattern', PATTERN, '--width', String(W), '--height', String(H), '--fps', String(FPS),
    '--bitrate', String(BITRATE)], { logFile: path.join(logDir, 'percon.log') });
  const base = `http://${SERVER_IP}:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (!py.running) throw new Error('percon.py exited; see logs/percon.log');
    try {
      const r = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(1000) });
      if (r.ok && (await r.json()).frames > 0) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error('percon.py did not come up; see logs/percon.log');
    await sleep(200);
  }
  return {
    name: 'per-connection', py, roots: () => [py.pid],
    target: { kind: 'aiortc', offerUrl: `${base}/offer` },
    page: `server=aiortc&offer=${encodeURIComponent(`${base}/offer`)}`,
    async reset() { await fetch(`${base}/reset`, { method: 'POST', signal: AbortSignal.timeout(10000) }).catch(() => {}); },
    async stop() { await py.stop(); },
  };
}

// ---- measuring one server ------------------------------------------------------------
async function measure(server, { counts, browser, pageBase, stopBelowFps = null }) {
  const res = { points: [], rss: {}, errors: [] };
  const rss = () => (server.janus ? rssKiB(server.janus.pid) : null);
  await sleep(P.settleS * 1000);
  const idle = await cpuWindow(server.roots(), P.idleS);
  res.points.push({ viewers: 0, cpu: idle.percent, machineBusy: idle.machineBusyPercent, minFps: null, rssKiB: rss() });
  res.rss[0] = rss();
  log(`${server.name}: 0 viewers: ${idle.percent.toFixed(1)}% CPU`);

  const pool = new ViewerPool(server.target, { processes: 2, concurrency: 3 });
  try {
    for (const n of counts) {
      const errs = await pool.growTo(n);
      if (errs.length) res.errors.push(`joining up to ${n}: ${errs.length} failed: ${errs[0]}`);
      await sleep(P.settleS * 1000);
      const w = await loadWindow(server.roots(), { all: pool }, P.windowS);
      const { joined, minFps, medianFps, viewerFps, gaps } = w.byPool.all;
      const pt = { viewers: n, joined, cpu: w.cpu, machineBusy: w.machineBusy, minFps, medianFps, viewerFps, gaps, rssKiB: rss() };
      res.points.push(pt);
      res.rss[n] = pt.rssKiB;
      log(`${server.name}: ${n} viewers: ${w.cpu.toFixed(1)}% CPU, slowest ${pt.minFps?.toFixed(1)} fps, ` +
        `machine ${w.machineBusy.toFixed(0)}% busy`);
      if (stopBelowFps !== null && (pt.minFps === null || pt.minFps < stopBelowFps)) {
        log(`${server.name}: below ${stopBelowFps} fps at ${n} viewers: no more viewers`);
        res.stoppedAt = n;
        break;
      }
    }
  } finally {
    await pool.shutdown();
  }
  if (server.reset) await server.reset();
  await sleep(2000);
  res.rss.afterViewers = rss();

  const url = `${pageBase}/view.html?${server.page}`;
  log(`${server.name}: time to first frame, ${P.joins} joins`);
  const ttff = await timeToFirstFrame(browser, url, { joins: P.joins, timeout: 15000 });
  res.ttff = ttff;
  const ok = ttff.filter((t) => t.ms !== null && !t.error).map((t) => t.ms);
  res.ttffSummary = { ...summary(ok), failed: ttff.length - ok.length };
  log(`${server.name}: first frame median ${r1(res.ttffSummary.median)} ms, p95 ${r1(res.ttffSummary.p95)} ms (${ok.length}/${ttff.length})`);
  if (server.reset) await server.reset();

  if (server.name === 'ours') {
    // The same joins while one werift viewer already watches: the pipeline
    // is running, so a join only waits for its own key frame (above, each
    // join was the only viewer and started the on-demand pipeline).
    const pool = new ViewerPool(server.target, { processes: 1 });
    try {
      const errs = await pool.growTo(1);
      if (errs.length) throw new Error(errs[0]);
      await sleep(1000);
      log(`${server.name}: time to first frame with another viewer watching, ${P.joins} joins`);
      const t2 = await timeToFirstFrame(browser, url, { joins: P.joins, timeout: 15000 });
      const ok2 = t2.filter((t) => t.ms !== null && !t.error).map((t) => t.ms);
      res.ttffWatched = t2;
      res.ttffWatchedSummary = { ...summary(ok2), failed: t2.length - ok2.length };
      log(`${server.name}: first frame (pipeline running) median ${r1(res.ttffWatchedSummary.median)} ms, p95 ${r1(res.ttffWatchedSummary.p95)} ms`);
    } catch (e) {
      res.errors.push(`ttff with a watcher: ${e.message}`);
    } finally {
      await pool.shutdown();
    }
    await sleep(1000);
  }

  log(`${server.name}: glass-to-glass, ${P.frames} frames`);
  const g = await glassToGlass(browser, url, { frames: P.frames, timeout: (P.frames / FPS) * 1000 * 3 + 10000 });
  res.g2g = { ...g, ...summary(g.delays || []) };
  log(`${server.name}: glass-to-glass median ${res.g2g.median} ms, p95 ${res.g2g.p95} ms (${res.g2g.n} frames${g.error ? ', ' + g.error : ''})`);
  if (server.reset) await server.reset();
  return res;
}

// ---- main ----------------------------------------------------------------------
const results = {
  started: new Date().toISOString(),
  quick: QUICK,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgAtStart: os.loadavg() },
  params: { width: W, height: H, fps: FPS, bitrate: BITRATE, keyframeIntervalS: KF_SECONDS, ...P },
  servers: {},
};

let serve = null;
let browser = null;
try {
  serve = spawnGroup(process.execPath, [path.join(repoRoot, 'tools', 'serve.mjs'), '--listen', SERVER_IP, '--port', '8000',
    '--janus', `http://${SERVER_IP}:8088`, '--root', path.join(repoRoot, 'bench', 'html')], { logFile: path.join(logDir, 'serve.log') });
  const pageBase = `http://${SERVER_IP}:8000`;
  browser = await launch({ tmp: OUT });

  const plan = [
    ['ours', startOurs, P.counts, null],
    ['relay', startRelay, P.counts, null],
    ['per-connection', startPercon, P.perconCounts, 25],
  ];
  for (const [name, start, counts, stopBelow] of plan) {
    if (!ONLY.includes(name)) continue;
    log(`=== ${name}`);
    let server = null;
    try {
      server = await start();
      const res = await measure(server, { counts, browser, pageBase, stopBelowFps: stopBelow });
      if (name === 'ours') {
        await sleep(2000);
        const before = rssKiB(server.janus.pid);
        log(`ours: ${P.cycles.signalling} signalling + ${P.cycles.full} full join/leave cycles`);
        const c = await joinLeaveCycles(server.janus.url, { ...P.cycles, concurrency: 4 });
        await sleep(3000);
        const after = rssKiB(server.janus.pid);
        res.cycles = { ...c, rssBeforeKiB: before, rssAfterKiB: after, deltaKiB: after - before };
        log(`ours: RSS ${before} -> ${after} KiB over ${c.signalling + c.full} cycles (${c.seconds.toFixed(0)} s, ${c.errors.length} errors)`);
      }
      results.servers[name] = res;
    } catch (e) {
      log(`${name}: FAILED: ${e.stack || e.message}`);
      results.servers[name] = { ...(results.servers[name] || {}), error: e.message };
    } finally {
      if (server) await server.stop().catch(() => {});
    }
  }

  if (ONLY.includes('ours')) {
    log('=== ours at 1280x720');
    let server = null;
    try {
      server = await startOurs({ width: 1280, height: 720, tag: 'ours-720p' });
      const pool = new ViewerPool(server.target, { processes: 1 });
      try {
        const errs = await pool.growTo(1);
        if (errs.length) throw new Error(errs[0]);
        await sleep(P.settleS * 1000);
        const w = await loadWindow(server.roots(), { all: pool }, P.hdWindowS);
        results.servers.ours720 = { cpu: w.cpu, machineBusy: w.machineBusy, fps: w.byPool.all.minFps };
        log(`ours 720p: ${w.cpu.toFixed(1)}% CPU at 1 viewer, ${w.byPool.all.minFps?.toFixed(1)} fps`);
      } finally {
        await pool.shutdown();
      }
    } catch (e) {
      results.servers.ours720 = { error: e.message };
      log(`ours 720p: FAILED: ${e.message}`);
    } finally {
      if (server) await server.stop().catch(() => {});
    }
  }
  if (FEATURES) {
    log('=== ours: two cameras, snapshots, recording');
    try {
      results.servers.features = await measureFeatures({
        dir: path.join(logDir, 'janus-features'), ip: SERVER_IP, iface: IFACE, cameraKeys: cameraKeys(), fps: FPS, P, log,
      });
    } catch (e) {
      results.servers.features = { error: e.message };
      log(`features: FAILED: ${e.stack || e.message}`);
    }
  }
} finally {
  if (browser) await browser.close();
  if (serve) await serve.stop();
}

results.finished = new Date().toISOString();
results.machine.loadavgAtEnd = os.loadavg();
const { table, targets } = report(results);
results.targets = targets;
fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2));
fs.writeFileSync(path.join(OUT, 'results.md'), table);
plot(results);
console.log(table);
log(`results in ${OUT}`);
killAllStarted();
process.exit(0);

// ---- report ------------------------------------------------------------------------
function perAdded(res, uptoN = null) {
  // (cpu@N - cpu@1) / (N - 1), N the largest count measured (or uptoN).
  const pts = (res?.points || []).filter((p) => p.viewers >= 1);
  const one = pts.find((p) => p.viewers === 1);
  const cands = pts.filter((p) => p.viewers > 1 && (uptoN === null || p.viewers <= uptoN));
  if (!one || !cands.length) return null;
  const last = cands[cands.length - 1];
  return { value: (last.cpu - one.cpu) / (last.viewers - 1), from: 1, to: last.viewers };
}

function report(R) {
  const S = R.servers;
  const names = ['ours', 'relay', 'per-connection'];
  const f = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const point = (name, n) => (S[name]?.points || []).find((p) => p.viewers === n);
  const counts = [...new Set([0, ...P.counts, ...P.perconCounts])].sort((a, b) => a - b);
  const rows = [];
  const row = (label, cells) => rows.push(`| ${label} | ${cells.join(' | ')} |`);
  rows.push(`| ${W}x${H} @ ${FPS} fps, ${BITRATE / 1e6} Mbit/s VP8 | ours (camera plugin) | relay (streaming plugin + GStreamer vp8enc) | per-connection (aiortc) |`);
  rows.push('|---|---|---|---|');
  for (const n of counts) {
    if (!names.some((nm) => point(nm, n))) continue;
    row(`server CPU, ${n} viewer${n === 1 ? '' : 's'} (% of one core)`, names.map((nm) => {
      const p = point(nm, n);
      if (!p) return S[nm]?.stoppedAt !== undefined && n > S[nm].stoppedAt ? `– (stopped below 25 fps at ${S[nm].stoppedAt})` : '–';
      return f(p.cpu);
    }));
  }
  const pa = { ours: perAdded(S.ours), relay: perAdded(S.relay) };
  // The per-connection design: up to the last count that still held 25 fps.
  const pcOk = (S['per-connection']?.points || []).filter((p) => p.viewers > 1 && p.minFps >= 25).map((p) => p.viewers);
  pa['per-connection'] = perAdded(S['per-connection'], pcOk.length ? Math.max(...pcOk) : null);
  row('CPU per added viewer (% of one core)', names.map((nm) => (pa[nm] ? `${f(pa[nm].value, 2)} (1→${pa[nm].to})` : '–')));
  for (const n of counts.filter((c) => c > 0)) {
    if (!names.some((nm) => point(nm, n))) continue;
    row(`slowest viewer fps, ${n} viewer${n === 1 ? '' : 's'}`, names.map((nm) => {
      const p = point(nm, n);
      if (!p) return '–';
      // A viewer whose join failed has 0 fps; say so rather than hide the
      // slowest working viewer behind it.
      const got = (p.viewerFps || []).filter((x) => x > 0);
      if (p.joined !== undefined && p.joined < n && got.length) return `${f(Math.min(...got))} (${n - p.joined} of ${n} did not join)`;
      return f(p.minFps);
    }));
  }
  const tt = (nm) => S[nm]?.ttffSummary;
  row(`time to first frame, median / p95 (ms, Chromium, ${P.joins} joins; ours: the only viewer, on-demand start)`, names.map((nm) => (tt(nm) ? `${f(tt(nm).median, 0)} / ${f(tt(nm).p95, 0)}${tt(nm).failed ? ` (${tt(nm).failed} failed)` : ''}` : '–')));
  const tw = S.ours?.ttffWatchedSummary;
  if (tw) row('time to first frame while another viewer watches (encoder already running), median / p95 (ms)', [`${f(tw.median, 0)} / ${f(tw.p95, 0)}${tw.failed ? ` (${tw.failed} failed)` : ''}`, 'same as above (its encoder always runs)', '–']);
  const gg = (nm) => S[nm]?.g2g;
  row('glass-to-glass, median / p95 (ms, Chromium)', names.map((nm) => (gg(nm)?.n ? `${f(gg(nm).median, 0)} / ${f(gg(nm).p95, 0)} (${gg(nm).n} frames)` : '–')));
  const mib = (k) => (k === null || k === undefined ? '–' : (k / 1024).toFixed(1));
  row('Janus RSS at ' + [0, ...P.counts].join(' / ') + ' viewers (MiB)', names.map((nm) => (S[nm]?.rss && nm !== 'per-connection' ? [0, ...P.counts].map((n) => mib(S[nm].rss[n])).join(' / ') : '–')));
  const cy = S.ours?.cycles;
  row(`Janus RSS before → after ${cy ? cy.signalling + cy.full : 0} join/leave cycles (MiB)`, [cy ? `${mib(cy.rssBeforeKiB)} → ${mib(cy.rssAfterKiB)} (${cy.deltaKiB >= 0 ? '+' : ''}${(cy.deltaKiB / 1024).toFixed(2)})` : '–', '–', '–']);
  const hd = S.ours720;
  row('1280x720 @ 30 fps, 1 viewer: Janus CPU (% of one core)', [hd?.cpu !== undefined ? `${f(hd.cpu)} (${f(hd.fps)} fps)` : '–', '–', '–']);
  for (const nm of names) if (S[nm]?.error) row(`${nm}: error`, names.map((x) => (x === nm ? S[nm].error.replace(/\|/g, '/').slice(0, 120) : '')));

  // Targets.
  const T = [];
  const tgt = (name, value, met) => T.push({ name, value, met });
  const maxN = Math.max(...P.counts);
  if (pa.ours && pa.relay) tgt('CPU per added viewer ≤ relay\'s (ratio ≤ 1.0)', `${f(pa.ours.value, 2)} vs ${f(pa.relay.value, 2)} (ratio ${pa.relay.value > 0 ? f(pa.ours.value / pa.relay.value, 2) : '∞'})`, pa.ours.value <= pa.relay.value);
  const o30 = point('ours', maxN), rl30 = point('relay', maxN);
  if (o30 && rl30) tgt(`total CPU at ${maxN} viewers ≤ 1.1× relay's`, `${f(o30.cpu)} vs ${f(rl30.cpu)} (×${f(o30.cpu / rl30.cpu, 2)})`, o30.cpu <= 1.1 * rl30.cpu);
  if (pa.ours && pa['per-connection']) {
    const ratio = pa.ours.value > 0 ? pa['per-connection'].value / pa.ours.value : Infinity;
    tgt('per added viewer ≥ 25× below per-connection', `${f(pa.ours.value, 2)} vs ${f(pa['per-connection'].value, 2)} (${Number.isFinite(ratio) ? f(ratio, 0) + '×' : 'ours ≤ 0'})`, ratio >= 25);
  }
  if (tt('ours')) {
    const tw = S.ours?.ttffWatchedSummary;
    const also = tw ? ` (${f(tw.median, 0)} / ${f(tw.p95, 0)} ms when another viewer already watches)` : '';
    tgt('time to first frame median ≤ 300 ms', `${f(tt('ours').median, 0)} ms${also}`, tt('ours').median !== null && tt('ours').median <= 300);
    tgt('time to first frame p95 ≤ 500 ms', `${f(tt('ours').p95, 0)} ms`, tt('ours').p95 !== null && tt('ours').p95 <= 500);
    if (tt('relay')) {
      const failedRelay = tt('relay').failed;
      // A relay join that never showed a frame within the timeout counts as
      // that timeout: leaving it out would flatter the relay.
      const relayMed = tt('relay').median;
      tgt('time to first frame ≥ 3× faster than relay (median)', `${f(tt('ours').median, 0)} vs ${f(relayMed, 0)} ms (${f(relayMed / tt('ours').median, 1)}×)${failedRelay ? `; relay: ${failedRelay} joins without a frame in 15 s` : ''}`, relayMed !== null && relayMed >= 3 * tt('ours').median);
    }
  }
  if (gg('ours')?.n) {
    tgt('glass-to-glass median ≤ 50 ms', `${f(gg('ours').median, 0)} ms`, gg('ours').median <= 50);
    tgt('glass-to-glass p95 ≤ 80 ms', `${f(gg('ours').p95, 0)} ms`, gg('ours').p95 <= 80);
  }
  if (hd?.cpu !== undefined) tgt('1280x720 @ 30 fps ≤ 30% of one core', `${f(hd.cpu)}%`, hd.cpu <= 30);
  if (cy) tgt(`RSS after ${cy.signalling + cy.full} join/leave cycles within 2 MiB`, `${cy.deltaKiB >= 0 ? '+' : ''}${(cy.deltaKiB / 1024).toFixed(2)} MiB`, Math.abs(cy.deltaKiB) <= 2048);

  const lines = [
    `## janus-camera benchmark — ${R.started}${R.quick ? ' (QUICK: fewer viewers, joins and frames; not the real figures)' : ''}`,
    '',
    `Machine: ${R.machine.cpus} × ${R.machine.model}; load average at start ${R.machine.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}. ` +
      `CPU: all server processes (Janus; gst-launch + pattern pipe; python + pattern pipe), utime+stime over ${P.windowS} s windows. ` +
      'Viewers: werift in 2 child processes (fps = frames received). First frame and glass-to-glass: headless Chromium, one viewer.',
    '',
    ...rows,
    '',
    '| target | ours | met |',
    '|---|---|---|',
    ...T.map((t) => `| ${t.name} | ${t.value} | ${t.met ? 'met' : '**not met**'} |`),
    '',
  ];
  if (cy) lines.push(`Join/leave cycles: ${cy.signalling} watch→detach over the HTTP API without ICE (Janus builds the PeerConnection and offer, nobody answers) + ${cy.full} full werift joins (ICE, DTLS, first key frame) and leaves; ${cy.errors.length} errors.`, '');
  if (S.features) lines.push(...featuresReport(S.features, { ours: S.ours, P, fps: FPS, size: `${W}x${H}` }), '');
  return { table: lines.join('\n'), targets: T };
}

function plot(R) {
  try {
    execFileSync('sh', ['-c', 'command -v gnuplot'], { stdio: 'ignore' });
  } catch {
    log('no gnuplot: no cpu.png');
    return;
  }
  const files = [];
  for (const nm of ['ours', 'relay', 'per-connection']) {
    const pts = R.servers[nm]?.points;
    if (!pts?.length) continue;
    const f = path.join(OUT, `cpu-${nm}.dat`);
    fs.writeFileSync(f, pts.map((p) => `${p.viewers} ${p.cpu.toFixed(2)}`).join('\n') + '\n');
    files.push([f, nm]);
  }
  if (!files.length) return;
  const script = [
    'set terminal pngcairo size 900,560 noenhanced',
    `set output '${path.join(OUT, 'cpu.png')}'`,
    `set title 'Server CPU vs viewers, ${W}x${H} @ ${FPS} fps, ${BITRATE / 1e6} Mbit/s VP8${R.quick ? ' (quick run)' : ''}'`,
    "set xlabel 'werift viewers'",
    "set ylabel 'CPU, % of one core'",
    'set grid',
    'set key top left',
    'set yrange [0:*]',
    'plot ' + files.map(([f, nm]) => `'${f}' using 1:2 with linespoints lw 2 title '${nm}'`).join(', '),
  ].join('\n');
  const sf = path.join(OUT, 'cpu.gnuplot');
  fs.writeFileSync(sf, script + '\n');
  try {
    execFileSync('gnuplot', [sf], { stdio: 'inherit' });
  } catch (e) {
    log(`gnuplot failed: ${e.message}`);
  }
}
