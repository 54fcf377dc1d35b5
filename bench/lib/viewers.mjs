// SPDX-License-Identifier: GPL-3.0-or-later
//
// werift viewers for the three servers of the benchmark, and a pool that runs
// them in a few child processes (viewer-pool-child.mjs) so that 30 of them do
// not share one event loop with the benchmark's own timing.
//
// A viewer counts what arrives with the integration harness's RtpCounter
// (frames = RTP timestamps seen, key frames from the VP8 descriptor); werift
// does not decode, so "fps" is frames received per second.
//
// target (what a viewer connects to), one of:
//   {kind:'camera', url[, camera]}     janus.plugin.camera: watch [camera] -> offer -> start
//   {kind:'streaming', url, id}        janus.plugin.streaming: watch {id} -> offer -> start
//   {kind:'aiortc', offerUrl}          POST our offer, get the answer (no trickle)

import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from '../../tests/integration/lib/api.mjs';
import { makePeerConnection, RtpCounter } from '../../tests/integration/lib/viewer.mjs';
import { withTimeout } from '../../tests/integration/lib/util.mjs';
import { cpuWindow } from './procs.mjs';
import { median, r1 } from './stats.mjs';

export class BenchViewer {
  constructor(target, name = 'viewer') {
    this.target = target;
    this.name = name;
    this.rtp = new RtpCounter();
    this.pc = null;
    this.session = null;
  }

  #subscribe(pc) {
    pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => this.rtp.onRtp(rtp)));
  }

  async join(timeout = 15000) {
    this.t0 = performance.now();
    const t = this.target;
    if (t.kind === 'aiortc') return withTimeout(this.#joinAiortc(), timeout, `${this.name}: join`);
    return withTimeout(this.#joinJanus(timeout), timeout + 2000, `${this.name}: join`);
  }

  async #joinJanus(timeout) {
    const t = this.target;
    const plugin = t.kind === 'camera' ? 'janus.plugin.camera' : 'janus.plugin.streaming';
    this.session = await Session.create(t.url);
    this.handle = await this.session.attach(plugin);
    const body = t.kind === 'camera' ? { request: 'watch', ...(t.camera ? { camera: t.camera } : {}) } : { request: 'watch', id: t.id };
    const w = await this.handle.message(body, { timeout });
    if (!w.jsep) throw new Error(`${this.name}: watch gave no offer: ${JSON.stringify(w.data)}`);
    const pc = makePeerConnection();
    this.pc = pc;
    this.#subscribe(pc);
    await pc.setRemoteDescription(w.jsep);
    // Our plugin's offer has a data channel m-line: werift opens its side,
    // as a browser page would (tests/integration/lib/viewer.mjs says why).
    if (/m=application/.test(w.jsep.sdp)) pc.createDataChannel('control');
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const s = await this.handle.message({ request: 'start' }, {
      jsep: { type: 'answer', sdp: pc.localDescription.sdp },
      timeout,
    });
    const d = s.data || {};
    const ok = t.kind === 'camera' ? d.result?.status === 'started' : (d.result?.status === 'starting' || d.result?.status === 'started' || d.streaming === 'event');
    if (!ok || d.error_code) throw new Error(`${this.name}: start failed: ${JSON.stringify(d)}`);
  }

  async #joinAiortc() {
    const pc = makePeerConnection();
    this.pc = pc;
    this.#subscribe(pc);
    pc.addTransceiver('video', { direction: 'recvonly' });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    // aiortc takes no trickled candidates: wait until werift has them all
    // in its local description (bounded by join()'s timeout).
    while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 20));
    const r = await fetch(this.target.offerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }),
      signal: AbortSignal.timeout(10000),
    });
    if (!r.ok) throw new Error(`${this.name}: offer refused: HTTP ${r.status}`);
    const answer = await r.json();
    await pc.setRemoteDescription(answer);
  }

  async close() {
    try {
      if (this.pc) await withTimeout(this.pc.close(), 5000, 'pc.close');
    } catch { /* a half-dead pc may throw; the session destroy still runs */ }
    if (this.session) await this.session.destroy().catch(() => {});
  }
}

// A pool of child processes, each holding some viewers.  add(n) joins n more
// (a few at a time), stats(windowMs) returns per-viewer frame rates over the
// last windowMs, closeAll() makes every viewer leave.
export class ViewerPool {
  constructor(target, { processes = 2, concurrency = 3 } = {}) {
    this.target = target;
    this.concurrency = concurrency;
    this.children = [];
    this.count = 0;
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'viewer-pool-child.mjs');
    for (let i = 0; i < processes; i++) {
      const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const c = { child, seq: 0, pending: new Map(), count: 0 };
      child.on('message', (m) => {
        const p = c.pending.get(m.id);
        if (!p) return;
        c.pending.delete(m.id);
        if (m.error) p.reject(new Error(m.error));
        else p.resolve(m.result);
      });
      child.on('exit', () => {
        for (const p of c.pending.values()) p.reject(new Error('viewer process exited'));
        c.pending.clear();
      });
      this.children.push(c);
    }
  }

  #call(c, cmd, args, timeout) {
    const id = ++c.seq;
    return withTimeout(new Promise((resolve, reject) => {
      c.pending.set(id, { resolve, reject });
      c.child.send({ id, cmd, args });
    }), timeout, `viewer pool: ${cmd}`);
  }

  // Joins viewers until there are `total`; spread over the children.
  async growTo(total) {
    const jobs = [];
    while (this.count < total) {
      const c = this.children.reduce((a, b) => (b.count < a.count ? b : a));
      c.count++;
      this.count++;
      jobs.push(c);
    }
    const errors = [];
    // A few joins at a time: a real crowd does not arrive in one millisecond,
    // and 30 simultaneous DTLS handshakes would only measure the client.
    for (let i = 0; i < jobs.length; i += this.concurrency) {
      const batch = jobs.slice(i, i + this.concurrency);
      const r = await Promise.allSettled(batch.map((c) => this.#call(c, 'add', { target: this.target }, 30000)));
      for (const x of r) if (x.status === 'rejected') errors.push(x.reason.message);
    }
    return errors;
  }

  async stats(windowMs) {
    const all = await Promise.all(this.children.map((c) => this.#call(c, 'stats', { windowMs }, 10000)));
    return all.flat();
  }

  async closeAll() {
    await Promise.allSettled(this.children.map((c) => this.#call(c, 'closeAll', {}, 30000)));
    for (const c of this.children) c.count = 0;
    this.count = 0;
  }

  async shutdown() {
    await this.closeAll().catch(() => {});
    for (const c of this.children) {
      c.child.disconnect?.();
      setTimeout(() => { try { c.child.kill('SIGKILL'); } catch { /* gone */ } }, 2000).unref();
    }
  }
}

// CPU over a window, then each pool's viewers over the same window:
// {cpu, machineBusy, byPool: {name: {viewers, joined, minFps, medianFps, viewerFps, gaps}}}
// (pools: {name: ViewerPool}; during: work run over the CPU window).
export async function loadWindow(roots, pools, seconds, during = null) {
  const [cpu] = await Promise.all([cpuWindow(roots, seconds), during ? during() : null]);
  const byPool = {};
  for (const [id, pool] of Object.entries(pools)) {
    const st = await pool.stats(seconds * 1000);
    const fps = st.map((s) => s.fps);
    byPool[id] = {
      viewers: st.length,
      joined: st.filter((s) => s.frames > 0).length,
      minFps: fps.length ? Math.min(...fps) : null,
      medianFps: median(fps),
      viewerFps: fps.map(r1),
      gaps: st.reduce((a, x) => a + x.gaps, 0),
    };
  }
  return { cpu: cpu.percent, machineBusy: cpu.machineBusyPercent, byPool };
}
