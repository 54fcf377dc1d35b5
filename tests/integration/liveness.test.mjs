// SPDX-License-Identifier: GPL-3.0-or-later
//
// Viewer liveness and the per-viewer request queues (issue 8): viewers that
// vanish (SIGKILL, SIGSTOP) or never answer are dropped within the configured
// time, with their slot, their control and (on demand) the encoder freed; a
// healthy viewer is never dropped; JSEPs where none is expected are refused
// without leaving a PeerConnection behind (checked with Janus's admin API); a
// configuration file that does not parse keeps the plugin from loading; and
// joins with slow ICE gathering run in parallel.  Drop times and join times
// are printed ("# ...").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RTCPeerConnection } from 'werift';
import { setupJanus } from './lib/setup.mjs';
import { startJanus } from './lib/janus.mjs';
import { Viewer, ViewerProcess, PLUGIN } from './lib/viewer.mjs';
import { Device } from './lib/device.mjs';
import { startServer } from './lib/server.mjs';
import { launchBrowser, inboundVideo, waitDecoded } from './lib/browser.mjs';
import { CLIENT_IP, SERVER_IP, inTestNamespace, makeTmpDir, sleep, waitFor } from './lib/util.mjs';

const ADMIN_KEY = 'liveness-admin';
const LIVENESS = 3000;
const PREPARE = 2000;
const WATCHDOG_PERIOD = 250;
const FPS = 30;

// A socket path that fits sun_path (107 bytes) even under a deep $CAM_IT_TMP.
function socketPath() {
  let dir = makeTmpDir('live');
  if (dir.length + 14 > 107) dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-'));
  return path.join(dir, 'control.sock');
}

async function setup(t, set = {}, janusOpts = {}) {
  const ctx = await setupJanus(t, { set: { admin_key: JSON.stringify(ADMIN_KEY), ...set }, ...janusOpts });
  const { cleanups } = ctx;
  ctx.viewer = async (name, { join = true } = {}) => {
    const v = new Viewer({ url: ctx.janus.url, name });
    cleanups.push(() => v.close());
    if (join) await v.join();
    else await v.connect();
    return v;
  };
  ctx.process = async (name) => {
    const v = new ViewerProcess({ url: ctx.janus.url, name });
    cleanups.push(() => v.close());
    await v.join();
    return v;
  };
  // Headless Chromium on the demo page, decoding; returns {browser, page}.
  ctx.chromium = async (frames = 1) => {
    const srv = await startServer({ janusUrl: ctx.janus.url });
    cleanups.push(() => srv.stop());
    const browser = await launchBrowser();
    cleanups.push(() => browser.close());
    const page = await browser.newPage(srv.pageUrl);
    await waitDecoded(page, { frames, timeout: 20000 });
    return { browser, page };
  };
  ctx.list = async () => {
    const r = await ctx.adminHandle.message({ request: 'list', admin_key: ADMIN_KEY });
    assert.ok(Array.isArray(r.data?.viewers), `list answer: ${JSON.stringify(r.data)}`);
    return r.data.viewers;
  };
  // performance.now() when viewer `id` is no longer listed (polled).
  ctx.waitGone = async (id, timeout) => {
    await waitFor(async () => !(await ctx.list()).some((v) => v.id === id),
      { timeout, interval: 25, what: () => `viewer ${id} to be dropped\n${ctx.logExcerpt()}` });
    return performance.now();
  };
  // What Janus itself still holds for a handle: an ICE agent, a
  // PeerConnection, an offer.
  ctx.pcState = async (session, handle) => {
    const r = await ctx.janus.admin('handle_info', {}, { session, handle });
    assert.equal(r.janus, 'success', `handle_info: ${JSON.stringify(r).slice(0, 300)}`);
    const i = r.info;
    return { agent: 'agent-created' in i, webrtc: 'webrtc' in i, gotOffer: !!i.flags?.['got-offer'] };
  };
  ctx.waitNoPc = async (session, handle, what) => {
    let last;
    await waitFor(async () => {
      last = await ctx.pcState(session, handle);
      return !last.agent && !last.webrtc;
    }, { timeout: 5000, what: () => `${what}: no PeerConnection left in Janus (have ${JSON.stringify(last)})` });
  };
  // The encoder has stopped: info.encoder.frames does not move for a second.
  ctx.waitEncoderStopped = async () => {
    let a;
    let b;
    await waitFor(async () => {
      a = (await ctx.info()).encoder.frames;
      await sleep(1000);
      b = (await ctx.info()).encoder.frames;
      return a === b;
    }, { timeout: 8000, interval: 0, what: () => `the encoder to stop (frames ${a} -> ${b})` });
    return b;
  };
  return ctx;
}

// Bounds for a drop the watchdog makes: the viewer's last packet came at
// most ~1.5 s before it went silent (werift reports every 0.5-1.5 s), the
// watchdog looks every WATCHDOG_PERIOD ms, our poll adds a little.
function assertDropTime(ms, limit, what, ctx) {
  assert.ok(ms <= limit + WATCHDOG_PERIOD + 400, `${what}: dropped after ${ms.toFixed(0)} ms (limit ${limit} ms)\n${ctx.logExcerpt()}`);
  assert.ok(ms >= limit - 1600, `${what}: dropped after only ${ms.toFixed(0)} ms (limit ${limit} ms)\n${ctx.logExcerpt()}`);
}

test('a SIGKILLed viewer holding control is dropped within liveness_ms: slot, control and safety stop; others keep receiving', { timeout: 90000 }, async (t) => {
  const sock = socketPath();
  // A dead-man time longer than liveness_ms: the safety stop that follows
  // the kill is the drop's doing, not the silence timer's.
  const ctx = await setup(t, { liveness_ms: LIVENESS, max_viewers: 2, control_socket: JSON.stringify(sock), deadman_ms: 20000 });
  const device = new Device(sock);
  ctx.cleanups.push(() => device.close());
  await device.connect();

  const killed = await ctx.process('killed');
  const take = await killed.request({ request: 'take_control' });
  assert.equal(take.data?.controller, killed.id, `take_control: ${JSON.stringify(take.data)}`);
  await device.waitLine((m) => m?.event === 'controller' && m.controller === killed.id, { what: 'controller = killed' });
  const healthy = await ctx.viewer('healthy');
  await healthy.waitFrames(10);
  const newcomer = await ctx.viewer('newcomer', { join: false });
  const full = await newcomer.watch();
  assert.equal(full.data?.error_code, 485, `a third watch with max_viewers=2: ${JSON.stringify(full.data)}`);

  assert.equal(device.stops.length, 0, `a safety stop before the kill: ${JSON.stringify(device.lines.map((l) => l.text))}`);
  const lines0 = device.lines.length;
  const t0 = performance.now();
  await killed.kill();
  const gone = await ctx.waitGone(killed.id, LIVENESS + 3000);
  const dropMs = gone - t0;
  console.log(`# SIGKILLed viewer dropped ${dropMs.toFixed(0)} ms after the kill (liveness_ms ${LIVENESS})`);
  assertDropTime(dropMs, LIVENESS, 'SIGKILLed viewer', ctx);

  // Control released with the safety stop, announced to the device.
  const stop = await device.waitLine((m) => m?.event === 'stop', { from: lines0, timeout: 2000, what: 'the safety stop' });
  await device.waitLine((m) => m?.event === 'controller' && m.controller === null, { from: lines0, timeout: 2000, what: 'controller = null' });
  console.log(`# safety stop at the device ${(stop.hrAt - performance.timeOrigin - t0).toFixed(0)} ms after the kill`);
  const info = await ctx.info();
  assert.equal(info.viewers, 1, `info after the drop: ${JSON.stringify(info)}`);
  assert.equal(info.controller, null, `info.controller after the drop: ${JSON.stringify(info)}`);
  await waitFor(() => healthy.events.some((e) => e?.result?.event === 'controller' && e.result.controller === null),
    { timeout: 2000, what: 'the controller=null event at the other viewer' });
  await ctx.waitNoPc(killed.joined.sessionId, killed.joined.handleId, 'killed viewer');

  // Its slot is free: the newcomer joins; the other viewer can take control.
  const w = await newcomer.watch();
  assert.ok(w.jsep && !w.data?.error_code, `watch after the drop: ${JSON.stringify(w.data)}`);
  const s = await newcomer.start();
  assert.equal(s.data?.result?.status, 'started', `start after the drop: ${JSON.stringify(s.data)}`);
  await newcomer.waitFrames(5);
  const ht = await healthy.request({ request: 'take_control' });
  assert.equal(ht.data?.controller, healthy.id, `take_control by the other viewer: ${JSON.stringify(ht.data)}`);

  // The other viewer never stopped receiving.
  const to = performance.now();
  const fps = healthy.rtp.fps(t0, to);
  console.log(`# the other viewer meanwhile: ${fps.toFixed(1)} fps over ${((to - t0) / 1000).toFixed(1)} s, per second ${healthy.rtp.perSecond(t0, to).join(',')}`);
  assert.ok(fps >= 0.85 * FPS, `the other viewer got ${fps.toFixed(1)} fps while the killed one was dropped`);
  assert.ok(!healthy.events.some((e) => e?.result?.event === 'dropped'), `the healthy viewer was told it was dropped: ${JSON.stringify(healthy.events)}`);
});

test('a SIGKILLed viewer alone, on demand: dropped, the encoder stops', { timeout: 60000 }, async (t) => {
  const ctx = await setup(t, { liveness_ms: LIVENESS, on_demand: 'true' });
  const killed = await ctx.process('killed');
  await waitFor(async () => (await ctx.info()).encoder.frames > 10, { timeout: 5000, what: 'the encoder running' });
  const t0 = performance.now();
  await killed.kill();
  const gone = await ctx.waitGone(killed.id, LIVENESS + 3000);
  console.log(`# SIGKILLed lone viewer dropped ${(gone - t0).toFixed(0)} ms after the kill`);
  assertDropTime(gone - t0, LIVENESS, 'SIGKILLed viewer', ctx);
  const frames = await ctx.waitEncoderStopped();
  const info = await ctx.info();
  console.log(`# encoder stopped at ${frames} frames, source ${info.source.state}, ${((performance.now() - t0) / 1000).toFixed(1)} s after the kill`);
  assert.equal(info.viewers, 0, `info after the drop: ${JSON.stringify(info)}`);
  assert.equal(info.source.state, 'idle', `source after the drop: ${JSON.stringify(info.source)}`);
});

test('a frozen (SIGSTOP) viewer is dropped; healthy werift and Chromium viewers watching for 2.5x liveness_ms are not', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t, { liveness_ms: LIVENESS });
  const frozen = await ctx.process('frozen');
  const healthy = await ctx.viewer('healthy');
  const { page } = await ctx.chromium();
  await healthy.waitFrames(10);
  const listed = await ctx.list();
  const chromiumId = listed.map((v) => v.id).find((id) => id !== frozen.id && id !== healthy.id);
  assert.ok(chromiumId, `Chromium's viewer in the list: ${JSON.stringify(listed)}`);
  const decoded0 = (await inboundVideo(page)).framesDecoded;

  const tStart = performance.now();
  frozen.freeze();
  const gone = await ctx.waitGone(frozen.id, LIVENESS + 3000);
  console.log(`# frozen viewer dropped ${(gone - tStart).toFixed(0)} ms after SIGSTOP`);
  assertDropTime(gone - tStart, LIVENESS, 'frozen viewer', ctx);

  // The healthy ones: listed all along, their silence always well below
  // liveness_ms (this is what proves their RTCP reaches the plugin).
  const maxSilent = { werift: 0, chromium: 0 };
  while (performance.now() < tStart + 2.5 * LIVENESS) {
    const l = await ctx.list();
    for (const [name, id] of [['werift', healthy.id], ['chromium', chromiumId]]) {
      const v = l.find((x) => x.id === id);
      assert.ok(v, `the healthy ${name} viewer is gone from the list: ${JSON.stringify(l)}\n${ctx.logExcerpt()}`);
      assert.equal(v.state, 'started');
      maxSilent[name] = Math.max(maxSilent[name], v.silent_ms);
    }
    await sleep(100);
  }
  const secs = (performance.now() - tStart) / 1000;
  const decoded = (await inboundVideo(page)).framesDecoded - decoded0;
  console.log(`# over ${secs.toFixed(1)} s: longest silence seen (silent_ms) werift ${maxSilent.werift} ms, Chromium ${maxSilent.chromium} ms; ` +
    `Chromium decoded ${decoded} frames, werift ${healthy.rtp.fps(tStart).toFixed(1)} fps`);
  assert.ok(maxSilent.werift < LIVENESS / 1.5 && maxSilent.chromium < LIVENESS / 1.5, `silent_ms: ${JSON.stringify(maxSilent)}`);
  assert.ok(decoded >= 0.8 * FPS * secs, `Chromium decoded ${decoded} frames in ${secs.toFixed(1)} s`);
  assert.ok(!healthy.events.some((e) => e?.result?.event === 'dropped'), `healthy viewer events: ${JSON.stringify(healthy.events)}`);
  assert.equal((await ctx.info()).viewers, 2);

  // Thawed, the frozen viewer reads the event that says why it was dropped.
  frozen.thaw();
  const ev = await waitFor(async () => (await frozen.events()).find((e) => e?.result?.event === 'dropped'),
    { timeout: 10000, what: 'the dropped event at the thawed viewer' });
  assert.deepEqual(ev, { camera: 'event', result: { event: 'dropped', reason: 'silent' } });
});

// The pids of the processes whose command line has `arg` (Chromium's own
// processes carry its fresh --user-data-dir).
function pidsWithArg(arg) {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').some((a) => a.includes(arg))) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test('a SIGKILLed Chromium is dropped within the default liveness_ms (5 s), the encoder stops', { timeout: 90000 }, async (t) => {
  const ctx = await setup(t);
  const { browser } = await ctx.chromium(10);
  const [viewer] = await ctx.list();
  assert.equal((await ctx.info()).viewers, 1);
  const pids = pidsWithArg(`--user-data-dir=${browser.dir}`);
  assert.ok(pids.length > 0, `no Chromium process found with --user-data-dir=${browser.dir}`);
  const t0 = performance.now();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited with its parent already
    }
  }
  const gone = await ctx.waitGone(viewer.id, 5000 + 3000);
  console.log(`# SIGKILLed Chromium (${pids.length} processes) dropped ${(gone - t0).toFixed(0)} ms after the kill (liveness_ms 5000, the default)`);
  assertDropTime(gone - t0, 5000, 'SIGKILLed Chromium', ctx);
  assert.equal((await ctx.info()).viewers, 0);
  await ctx.waitEncoderStopped();
});

test('watch without start: dropped after prepare_timeout_ms, slot freed, encoder stops, no PeerConnection left', { timeout: 60000 }, async (t) => {
  const ctx = await setup(t, { prepare_timeout_ms: PREPARE, max_viewers: 1, on_demand: 'true' });
  const silent = await ctx.viewer('unanswered', { join: false });
  const w = await silent.watch();
  const tOffer = performance.now();
  assert.ok(w.jsep?.type === 'offer', `watch: ${JSON.stringify(w.data)}`);
  await waitFor(async () => (await ctx.info()).encoder.frames > 5, { timeout: 5000, what: 'the encoder running for the preparing viewer' });
  const next = await ctx.viewer('next', { join: false });
  const full = await next.watch();
  assert.equal(full.data?.error_code, 485, `watch while the slot is held: ${JSON.stringify(full.data)}`);

  const ev = await waitFor(() => silent.events.find((e) => e?.result?.event === 'dropped'),
    { timeout: PREPARE + 3000, interval: 10, what: 'the dropped event' });
  const dropMs = performance.now() - tOffer;
  console.log(`# unanswered viewer dropped ${dropMs.toFixed(0)} ms after its offer (prepare_timeout_ms ${PREPARE})`);
  assert.deepEqual(ev, { camera: 'event', result: { event: 'dropped', reason: 'unanswered' } });
  assert.ok(dropMs >= PREPARE - 100 && dropMs <= PREPARE + WATCHDOG_PERIOD + 400, `dropped after ${dropMs.toFixed(0)} ms`);
  assert.equal((await ctx.info()).viewers, 0);
  await ctx.waitNoPc(silent.session.id, silent.handle.id, 'unanswered viewer');
  const frames = await ctx.waitEncoderStopped();
  console.log(`# encoder stopped at ${frames} frames`);

  // The slot is free again.
  await next.join();
  await next.waitFrames(5);
  // The dropped handle is back to idle: it is not watching.
  const kf = await silent.request({ request: 'keyframe' });
  assert.equal(kf.data?.error_code, 487, `keyframe on the dropped handle: ${JSON.stringify(kf.data)}`);
});

// An offer as a browser would make it (werift), to send where none belongs.
async function clientOffer() {
  const pc = new RTCPeerConnection({ iceUseIpv6: false, iceUseTcp: false, bundlePolicy: 'max-bundle' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.createDataChannel('control');
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription.sdp;
  await pc.close();
  return { type: 'offer', sdp };
}

test('a JSEP where none is expected gets 484 and leaves no PeerConnection; the handle can watch afterwards', { timeout: 90000 }, async (t) => {
  const ctx = await setup(t);
  const cases = [
    ['watch with an offer', { request: 'watch' }, 484, 'no JSEP expected'],
    ['info with an offer', { request: 'info' }, 484, 'no JSEP expected'],
    ['list with an offer', { request: 'list', admin_key: ADMIN_KEY }, 484, 'no JSEP expected'],
    ['keyframe with an offer', { request: 'keyframe' }, 484, 'no JSEP expected'],
    ['stop with an offer', { request: 'stop' }, 484, 'no JSEP expected'],
    ['start with an offer', { request: 'start' }, 484, 'start takes an answer'],
    ['an unknown request with an offer', { request: 'nope' }, 482, null],
  ];
  const handles = [];
  for (const [name, body, code, reason] of cases) {
    const h = await ctx.admin.attach(PLUGIN);
    handles.push(h);
    const r = await h.message(body, { jsep: await clientOffer() });
    const right = await ctx.pcState(ctx.admin.id, h.id);
    console.log(`# ${name}: ${r.data?.error_code} "${r.data?.error}"; right after: ${JSON.stringify(right)}`);
    assert.equal(r.data?.error_code, code, `${name}: ${JSON.stringify(r.data)}`);
    if (reason) assert.equal(r.data?.error, reason, `${name}: ${JSON.stringify(r.data)}`);
    await ctx.waitNoPc(ctx.admin.id, h.id, name);
  }
  const info = await ctx.info();
  assert.equal(info.viewers, 0, `no viewer after the refusals: ${JSON.stringify(info)}`);

  // The first handle (watch with an offer) watches for real now.
  const v = new Viewer({ url: ctx.janus.url, name: 'reused' });
  v.session = ctx.admin;
  v.handle = handles[0];
  v.handle.on('event', (m) => v.events.push(m.plugindata?.data));
  ctx.cleanups.push(() => v.closeMedia());   // the session is the admin's
  const w = await waitFor(async () => {
    const r = await v.watch();
    return r.data?.error_code === 487 ? null : r;
  }, { timeout: 5000, interval: 200, what: 'a watch that is not 487 on the reused handle' });
  assert.ok(w.jsep && !w.data?.error_code, `watch on the reused handle: ${JSON.stringify(w.data)}`);
  const s = await v.start();
  assert.equal(s.data?.result?.status, 'started', `start on the reused handle: ${JSON.stringify(s.data)}`);
  await v.waitFrames(10);
  assert.equal((await ctx.info()).viewers, 1);
});

test('a configuration file that does not parse keeps the plugin from loading, and the log says why', { timeout: 60000 }, async (t) => {
  assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
  const cases = [
    ['duplicated key', 'general: {\n\twidth = 640\n\twidth = 320\n}'],
    ['syntax error', 'general: {\n\twidth = 640\n\theight = \n}'],
  ];
  for (const [name, raw] of cases) {
    const janus = await startJanus({ raw, name: `badconf-${name.replace(/\W+/g, '-')}` });
    try {
      const file = path.join(janus.dir, 'janus.plugin.camera.jcfg');
      const fatal = janus.grep(/\[camera\].*cannot parse/);
      console.log(`# ${name}: plugins loaded ${JSON.stringify(janus.pluginPackages)}; log: ${fatal.trim()}`);
      assert.ok(!janus.pluginPackages.includes(PLUGIN), `${name}: the camera plugin loaded anyway`);
      assert.ok(fatal.includes(file), `${name}: no log line naming ${file}:\n${janus.tail(40)}`);
    } finally {
      await janus.stopAndCheck();
    }
  }
});

// A STUN server (on the test namespace's client address) that answers only
// the first binding request, which is Janus's start-up check of it (an
// unreachable one would be disabled at start); every handle's gathering then
// waits for libnice's STUN timeout: it sends its binding request three times
// (seen with strace) and gives up after about 2 s.  Here those requests do
// not even reach this socket (they leave from the server end of the veth
// pair; "ignored" stays 0): an unanswered STUN server either way.
async function startOneShotStun(port) {
  const sock = dgram.createSocket('udp4');
  let answered = 0;
  let ignored = 0;
  let other = 0;
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001) {
      other++;
      return;
    }
    if (answered > 0) {
      ignored++;
      return;
    }
    answered++;
    const res = Buffer.alloc(32);
    res.writeUInt16BE(0x0101, 0); // binding success
    res.writeUInt16BE(12, 2);
    msg.copy(res, 4, 4, 20); // magic cookie and transaction id
    res.writeUInt16BE(0x0020, 20); // XOR-MAPPED-ADDRESS
    res.writeUInt16BE(8, 22);
    res.writeUInt16BE(0x0001, 24); // IPv4
    res.writeUInt16BE(rinfo.port ^ 0x2112, 26);
    // Janus's own address (the kernel sends its probe over lo from the
    // client address, both being local here).
    const ip = SERVER_IP.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
    res.writeUInt32BE((ip ^ 0x2112a442) >>> 0, 28);
    sock.send(res, rinfo.port, rinfo.address);
  });
  await new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, CLIENT_IP, resolve);
  });
  return { counts: () => ({ answered, ignored, other }), close: () => new Promise((resolve) => sock.close(resolve)) };
}

test('joins are not serialized: 4 watches with slow ICE gathering take about as long as one', { timeout: 120000 }, async (t) => {
  const stun = await startOneShotStun(3479);
  t.after(() => stun.close());
  const nat = [`stun_server = "${CLIENT_IP}"`, 'stun_port = 3479', 'ignore_unreachable_ice_server = true'];
  const ctx = await setup(t, {}, { nat });
  assert.equal(stun.counts().answered, 1, 'Janus did not check the STUN server at start');
  const one = await ctx.viewer('alone', { join: false });
  let t0 = performance.now();
  const w1 = await one.watch({ timeout: 30000 });
  const single = performance.now() - t0;
  assert.ok(w1.jsep, `watch: ${JSON.stringify(w1.data)}`);
  console.log(`# one watch with slow gathering: offer after ${single.toFixed(0)} ms`);
  assert.ok(single >= 1000, `gathering was not slow (${single.toFixed(0)} ms): this test would prove nothing`);

  const four = await Promise.all([1, 2, 3, 4].map((i) => ctx.viewer(`parallel${i}`, { join: false })));
  t0 = performance.now();
  const times = await Promise.all(four.map(async (v) => {
    const r = await v.watch({ timeout: 60000 });
    assert.ok(r.jsep, `${v.name}: ${JSON.stringify(r.data)}`);
    return performance.now() - t0;
  }));
  const last = Math.max(...times);
  console.log(`# STUN requests: ${JSON.stringify(stun.counts())}`);
  console.log(`# 4 watches at once: offers after ${times.map((x) => x.toFixed(0)).join(' ')} ms (one alone: ${single.toFixed(0)} ms; serialized would be ~${(4 * single).toFixed(0)} ms)`);
  assert.ok(last < 2 * single, `the last of 4 parallel offers came after ${last.toFixed(0)} ms, one alone takes ${single.toFixed(0)} ms`);
});
