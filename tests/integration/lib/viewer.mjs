// SPDX-License-Identifier: GPL-3.0-or-later
//
// A werift viewer of janus.plugin.camera: watch, answer, start, then count
// what really arrives (RTP packets, frames, key frames, gaps, frame rate) and
// talk on the "control" data channel.  werift has no decoder, so "frame" here
// means "all packets of one RTP timestamp arrived, or at least its first one";
// "first frame" is the first key frame, the first thing a decoder could show.

import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { Session } from './api.mjs';
import { parseVp8 } from './vp8.mjs';
import { waitFor, withTimeout } from './util.mjs';

export const PLUGIN = 'janus.plugin.camera';

// One werift PeerConnection configured for this namespace: IPv4 UDP only
// (TCP and v6 candidates would only slow ICE down), VP8 with the feedback a
// browser would offer.
export function makePeerConnection() {
  return new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/VP8',
          clockRate: 90000,
          rtcpFeedback: [
            { type: 'nack' },
            { type: 'nack', parameter: 'pli' },
            { type: 'ccm', parameter: 'fir' },
            { type: 'goog-remb' },
          ],
        }),
      ],
      audio: [],
    },
    iceUseIpv6: false,
    iceUseTcp: false,
    // One ICE transport from the start: with "balanced", a werift offerer
    // gathers one per m-line and never closes the ones BUNDLE makes unused
    // (their sockets kept test processes alive).
    bundlePolicy: 'max-bundle',
  });
}

// Counts RTP as it arrives.  Kept separate from the viewer so the smoke test
// can use it on an echo.
export class RtpCounter {
  constructor() {
    this.t0 = performance.now();
    this.packets = 0;
    this.bytes = 0;
    this.frames = 0;
    this.keyframes = 0;
    this.gaps = 0; // packets missing by sequence number
    this.lastSeq = null;
    this.lastTs = null;
    this.firstPacketAt = null;
    this.firstKeyframeAt = null;
    // Arrival times (ms, performance.now) of the first packet of each new
    // frame; capped so a long test cannot grow it without bound.
    this.frameTimes = [];
    this.maxFrameTimes = 200000;
  }

  onRtp(rtp) {
    const now = performance.now();
    const h = rtp.header;
    this.packets++;
    this.bytes += rtp.payload.length;
    if (this.firstPacketAt === null) this.firstPacketAt = now;
    if (this.lastSeq !== null) {
      const d = (h.sequenceNumber - this.lastSeq + 65536) % 65536;
      // d == 0: duplicate or retransmission; d >= 32768: reordered/late.
      if (d >= 1 && d < 32768) {
        this.gaps += d - 1;
        this.lastSeq = h.sequenceNumber;
      }
    } else {
      this.lastSeq = h.sequenceNumber;
    }
    // A new, later RTP timestamp is a new frame.
    const newFrame = this.lastTs === null || (((h.timestamp - this.lastTs) >>> 0) > 0 &&
      ((h.timestamp - this.lastTs) >>> 0) < 0x80000000);
    if (newFrame) {
      this.lastTs = h.timestamp;
      this.frames++;
      if (this.frameTimes.length < this.maxFrameTimes) this.frameTimes.push(now);
    }
    const vp8 = parseVp8(rtp.payload);
    if (vp8?.keyframe) {
      this.keyframes++;
      if (this.firstKeyframeAt === null) this.firstKeyframeAt = now;
    }
  }

  // Frames whose first packet arrived in [from, to) (performance.now ms).
  framesBetween(from, to = performance.now()) {
    let n = 0;
    for (const t of this.frameTimes) if (t >= from && t < to) n++;
    return n;
  }

  fps(from, to = performance.now()) {
    return (1000 * this.framesBetween(from, to)) / (to - from);
  }

  // Frames per whole second since `from`, e.g. [30, 29, 30, ...].
  perSecond(from, to = performance.now()) {
    const out = [];
    for (let s = from; s + 1000 <= to; s += 1000) out.push(this.framesBetween(s, s + 1000));
    return out;
  }

  snapshot() {
    return {
      packets: this.packets,
      bytes: this.bytes,
      frames: this.frames,
      keyframes: this.keyframes,
      gaps: this.gaps,
    };
  }
}

export class Viewer {
  constructor({ url, name = 'viewer' }) {
    this.url = url;
    this.name = name;
    this.rtp = new RtpCounter();
    this.events = []; // plugin event data, in order
    this.messages = []; // data channel messages (strings), in order
    this.janusEvents = []; // webrtcup, media, hangup, slowlink...
    this.dc = null;
    this.pc = null;
    this.id = null;
    this.watchAt = null;
  }

  async connect() {
    this.session = await Session.create(this.url);
    this.handle = await this.session.attach(PLUGIN);
    this.handle.on('event', (m) => this.events.push(m.plugindata?.data));
    for (const t of ['webrtcup', 'media', 'hangup', 'slowlink', 'detached']) {
      this.handle.on(t, (m) => this.janusEvents.push(m));
    }
    return this;
  }

  // Sends `watch`; returns its answer data (and keeps the offer).  Does not
  // throw on a plugin error: the caller asserts on it.
  async watch({ pin, timeout = 10000 } = {}) {
    const body = { request: 'watch' };
    if (pin !== undefined) body.pin = pin;
    this.watchAt = performance.now();
    const r = await this.handle.message(body, { timeout });
    this.offer = r.jsep;
    if (r.data?.result?.id !== undefined) this.id = r.data.result.id;
    return r;
  }

  // Answers the offer from `watch` and sends `start`.  Returns the answer
  // to `start`.
  async start({ timeout = 10000 } = {}) {
    if (!this.offer) throw new Error(`${this.name}: no offer to answer (watch failed?)`);
    const pc = makePeerConnection();
    this.pc = pc;
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => this.rtp.onRtp(rtp));
    });
    // Channels that Janus opens (a plugin relay_data to a label we did not
    // open) are accepted too.
    pc.onDataChannel.subscribe((ch) => this.#useChannel(ch));
    await pc.setRemoteDescription(this.offer);
    // werift must open the channel itself for SCTP data to flow with Janus
    // (Janus's data_ready never fires otherwise); the contract's label.
    this.#useChannel(pc.createDataChannel('control'));
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const r = await this.handle.message({ request: 'start' }, {
      jsep: { type: 'answer', sdp: pc.localDescription.sdp },
      timeout,
    });
    return r;
  }

  #useChannel(ch) {
    if (ch.label === 'control' && (!this.dc || this.dc.readyState !== 'open')) this.dc = ch;
    ch.onMessage.subscribe((data) => {
      if (this.messages.length < 10000) this.messages.push(typeof data === 'string' ? data : data.toString());
    });
  }

  // connect + watch + start, asserting success; the common case.
  async join({ pin, timeout = 15000 } = {}) {
    if (!this.session) await this.connect();
    const w = await this.watch({ pin, timeout });
    if (w.data?.error_code || !w.jsep) {
      throw new Error(`${this.name}: watch failed: ${JSON.stringify(w.data)}`);
    }
    const s = await this.start({ timeout });
    if (s.data?.error_code || s.data?.result?.status !== 'started') {
      throw new Error(`${this.name}: start failed: ${JSON.stringify(s.data)}`);
    }
    return this;
  }

  // Milliseconds from sending `watch` to the first key frame (what a decoder
  // needs to show a first picture), or null.
  get firstFrameMs() {
    return this.rtp.firstKeyframeAt === null ? null : this.rtp.firstKeyframeAt - this.watchAt;
  }

  get firstPacketMs() {
    return this.rtp.firstPacketAt === null ? null : this.rtp.firstPacketAt - this.watchAt;
  }

  async waitFrames(n, timeout = 10000) {
    return waitFor(() => this.rtp.frames >= n, { timeout, what: () => `${this.name}: ${n} frames (have ${this.rtp.frames})` });
  }

  async waitChannelOpen(timeout = 10000) {
    return waitFor(() => this.dc?.readyState === 'open', { timeout, what: `${this.name}: data channel open` });
  }

  send(text) {
    if (!this.dc || this.dc.readyState !== 'open') throw new Error(`${this.name}: data channel not open`);
    this.dc.send(text);
  }

  // Sends a request on the handle, e.g. {request:'info'}.
  request(body, opts) {
    return this.handle.message(body, opts);
  }

  stats() {
    return { ...this.rtp.snapshot(), firstFrameMs: this.firstFrameMs, firstPacketMs: this.firstPacketMs, id: this.id };
  }

  // Ends the viewer the polite way: PeerConnection closed, session destroyed
  // (which detaches the handle and hangs up).
  async close() {
    try {
      if (this.pc) await withTimeout(this.pc.close(), 5000, `${this.name}: pc.close`);
    } catch {
      // closing a half-dead pc may throw; the session destroy still runs
    }
    if (this.session) await this.session.destroy();
  }
}

// A Viewer in a child process (viewer-child.mjs), for tests that need to
// freeze one client for real.  Same join/stats/close, plus freeze/thaw.
export class ViewerProcess {
  constructor({ url, name = 'viewer-proc' }) {
    this.url = url;
    this.name = name;
    this.seq = 0;
    this.pending = new Map();
    this.frozen = false;
  }

  async #spawn() {
    const { fork } = await import('node:child_process');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'viewer-child.mjs');
    this.child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    await withTimeout(new Promise((resolve) => {
      this.child.on('message', (m) => {
        if (m.ready) return resolve();
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(new Error(`${this.name}: ${m.error}`));
        else p.resolve(m.result);
      });
    }), 10000, `${this.name}: child start`);
  }

  #call(cmd, args, timeout = 20000) {
    const id = ++this.seq;
    return withTimeout(new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, cmd, args });
    }), timeout, `${this.name}: ${cmd}`);
  }

  // Returns the child's stats after joining, with its Janus ids
  // (sessionId, handleId) for the admin API, and keeps them (this.joined).
  async join(opts = {}) {
    await this.#spawn();
    this.joined = await this.#call('join', { url: this.url, name: this.name, ...opts });
    this.id = this.joined.id;
    return this.joined;
  }

  // The plugin events the child's viewer got so far, in order.
  events() {
    return this.#call('events', undefined, 5000);
  }

  // A request on the child's handle; resolves with {data}.
  request(body, opts) {
    return this.#call('request', { body, opts });
  }

  // {packets, frames, ..., fps over the last `windowMs`}.  Not while frozen.
  stats(windowMs) {
    return this.#call('stats', { from: windowMs }, 5000);
  }

  freeze() {
    this.child.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw() {
    this.child.kill('SIGCONT');
    this.frozen = false;
  }

  // Kills the child outright (SIGKILL): nothing is closed or said, as when
  // a browser crashes or its machine loses the network.  Resolves when it
  // is gone.
  async kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    this.frozen = false;
    await withTimeout(this.exited, 5000, `${this.name}: exit after SIGKILL`);
  }

  async close() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.frozen) this.thaw();
    try {
      await this.#call('close', undefined, 8000);
    } catch {
      // fall through to the kill below
    }
    const done = await withTimeout(this.exited, 2000, 'viewer exit').catch(() => 'timeout');
    if (done === 'timeout') this.child.kill('SIGKILL');
  }
}
