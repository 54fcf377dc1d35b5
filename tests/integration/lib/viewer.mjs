// SPDX-License-Identifier: GPL-3.0-or-later
//
// A werift viewer of janus.plugin.camera: watch, answer, start, then decode
// what really arrives and talk on the "control" data channel.  RTP is
// counted as it comes (packets, sequence gaps: RtpCounter), reassembled into
// VP8 frames as a real receiver does (Vp8Reassembler, vp8.mjs) and decoded by
// a libvpx process of its own (Vp8Decoder, decoder.mjs), which reads the test
// pattern's stamp back from every picture.  `frames`, `waitFrames` and
// `firstFrameMs` are about decoded pictures; `rtp` keeps the packet counts.

import assert from 'node:assert/strict';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { Session } from './api.mjs';
import { parseVp8, Vp8Reassembler } from './vp8.mjs';
import { Vp8Decoder } from './decoder.mjs';
import { median, waitFor, withTimeout } from './util.mjs';

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
    this.gapLog = []; // [{at, n}] each jump in sequence numbers, capped
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
        if (d > 1 && this.gapLog.length < 10000) this.gapLog.push({ at: now, n: d - 1 });
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
  constructor({ url, name = 'viewer', camera }) {
    this.url = url;
    this.name = name;
    this.camera = camera; // the camera id to watch (undefined: the plugin's first)
    this.rtp = new RtpCounter();
    this.events = []; // plugin event data, in order
    this.messages = []; // data channel messages (strings), in order
    this.janusEvents = []; // webrtcup, media, hangup, slowlink...
    this.dc = null;
    this.pc = null;
    this.id = null;
    this.watchAt = null;
    this.decoder = null;
    this.reasm = null;
    this.mediaSsrc = null;
    this.pastDecoders = []; // of earlier watches on this handle
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
  async watch({ pin, camera = this.camera, timeout = 10000 } = {}) {
    const body = { request: 'watch' };
    if (pin !== undefined) body.pin = pin;
    if (camera !== undefined) body.camera = camera;
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
    // A PeerConnection of an earlier watch that stop({closePc: false}) left open.
    if (this.pc) await withTimeout(this.pc.close(), 5000, `${this.name}: old pc.close`).catch(() => {});
    const pc = makePeerConnection();
    this.pc = pc;
    this.#decode();
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.mediaSsrc = rtp.header.ssrc;
        this.rtp.onRtp(rtp);
        this.reasm.onRtp(rtp);
      });
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

  // A decoder and counters for this PeerConnection's video (fresh ones
  // after each `watch`: a new stream starts with a key frame and new RTP
  // numbering).
  #decode() {
    const old = this.decoder;
    if (old) {
      old.close();
      this.pastDecoders.push(old);
      this.rtp = new RtpCounter();
    }
    this.decoder = new Vp8Decoder({ name: this.name });
    const dec = this.decoder;
    this.reasm = new Vp8Reassembler((f) => dec.feed(f), () => this.#lost());
    this.mediaSsrc = null;
  }

  // A frame could not be completed, or delta frames go undecoded while we
  // wait for a key frame: ask for one as a browser does, with a PLI, at most
  // every 300 ms.
  #lost() {
    const now = performance.now();
    if (this.lastPliAt !== undefined && now - this.lastPliAt < 300) return;
    this.lastPliAt = now;
    this.plisSent = (this.plisSent || 0) + 1;
    this.sendPli().catch(() => {});
  }

  #useChannel(ch) {
    if (ch.label === 'control' && (!this.dc || this.dc.readyState !== 'open')) this.dc = ch;
    ch.onMessage.subscribe((data) => {
      if (this.messages.length < 10000) this.messages.push(typeof data === 'string' ? data : data.toString());
    });
  }

  // `stop`, and the PeerConnection closed on this side too (unless
  // closePc is false: then only Janus closes it, and the next start()
  // closes ours); returns the answer to `stop`.  The handle may `watch`
  // again.
  async stop({ timeout = 10000, closePc = true } = {}) {
    const r = await this.handle.message({ request: 'stop' }, { timeout });
    if (this.pc && closePc) await withTimeout(this.pc.close(), 5000, `${this.name}: pc.close`).catch(() => {});
    return r;
  }

  // connect + watch + start, asserting success; the common case.
  async join({ pin, camera = this.camera, timeout = 15000 } = {}) {
    if (!this.session) await this.connect();
    const w = await this.watch({ pin, camera, timeout });
    if (w.data?.error_code || !w.jsep) {
      throw new Error(`${this.name}: watch failed: ${JSON.stringify(w.data)}`);
    }
    const s = await this.start({ timeout });
    if (s.data?.error_code || s.data?.result?.status !== 'started') {
      throw new Error(`${this.name}: start failed: ${JSON.stringify(s.data)}`);
    }
    return this;
  }

  // What this viewer's decoder made of the current stream (decoder.mjs,
  // Decoded): pictures, sizes, stamps, errors, per-picture log.
  get decoded() {
    if (!this.decoder) throw new Error(`${this.name}: not started, nothing decoded`);
    return this.decoder.decoded;
  }

  // Pictures decoded so far (of the current stream).
  get frames() {
    return this.decoder ? this.decoder.decoded.pictures : 0;
  }

  // Milliseconds from sending `watch` to the first decoded picture, or null.
  get firstFrameMs() {
    const at = this.decoder?.decoded.firstPictureAt ?? null;
    return at === null ? null : at - this.watchAt;
  }

  get firstPacketMs() {
    return this.rtp.firstPacketAt === null ? null : this.rtp.firstPacketAt - this.watchAt;
  }

  // Waits until n pictures have been decoded.
  async waitFrames(n, timeout = 10000) {
    return waitFor(() => this.frames >= n, {
      timeout,
      what: () => `${this.name}: ${n} decoded pictures (have ${this.frames}; ${this.rtp.packets} RTP packets, ` +
        `reassembly ${JSON.stringify(this.reasm?.snapshot())}, decoder ${this.decoder?.running ? 'running' : 'gone'}` +
        `${this.decoder?.stderr ? `: ${this.decoder.stderr.trim()}` : ''}, last error ${this.decoder?.decoded.lastError})`,
    });
  }

  // The first plugin event whose result.event is `name` (e.g. "kicked"),
  // waited for.
  async waitEvent(name, timeout = 5000) {
    return waitFor(() => this.events.find((e) => e?.result?.event === name), {
      timeout, what: () => `${this.name}: the "${name}" event (have ${JSON.stringify(this.events)})`,
    });
  }

  // Sends a PLI (RTCP PSFB FMT 1, RFC 4585) for the video we receive.
  async sendPli() {
    const receiver = this.pc?.getTransceivers().find((t) => t.kind === 'video')?.receiver;
    if (!receiver || this.mediaSsrc === null) throw new Error(`${this.name}: no video to send a PLI about`);
    await receiver.sendRtcpPLI(this.mediaSsrc);
  }

  // CPU time (ms) that this viewer's decoders used so far.
  decoderCpuMs() {
    return [...this.pastDecoders, this.decoder].filter(Boolean).reduce((n, d) => n + (d.cpuMs() ?? 0), 0);
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
    const rtp = this.rtp.snapshot();
    return {
      ...rtp, rtpFrames: rtp.frames, frames: this.frames, firstFrameMs: this.firstFrameMs,
      firstPacketMs: this.firstPacketMs, id: this.id,
      decoded: this.decoder?.decoded.snapshot() ?? null, reassembly: this.reasm?.snapshot() ?? null,
    };
  }

  // Ends the viewer the polite way: PeerConnection closed, session destroyed
  // (which detaches the handle and hangs up).
  async close() {
    await this.closeMedia({ destroySession: true });
  }

  // Closes the PeerConnection and the decoders; with destroySession, the
  // Janus session too (not for a viewer borrowing someone else's session).
  async closeMedia({ destroySession = false } = {}) {
    try {
      if (this.pc) await withTimeout(this.pc.close(), 5000, `${this.name}: pc.close`);
    } catch {
      // closing a half-dead pc may throw; the session destroy still runs
    }
    if (destroySession && this.session) await this.session.destroy();
    for (const d of [...this.pastDecoders, this.decoder].filter(Boolean)) {
      const r = await d.close();
      // Not a test failure (the decoder is the harness), but never silent.
      if (r?.code !== 0 || d.stderr) console.log(`# ${this.name}: vp8dec exit ${JSON.stringify(r)}: ${d.stderr.trim().slice(0, 2000)}`);
    }
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

  // Viewer.stats() (frames = decoded pictures) plus fps (decoded pictures
  // per second over the last `windowMs`).  Not while frozen.
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

// The p-th percentile (0..1) of xs, nearest rank.
export function percentile(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

// What viewer v decoded in [from, to) (performance.now ms): pictures per
// second, sizes, stamps, counter skips, glass-to-glass delay; plus, over the
// whole stream, decode errors, corrupt pictures, lost RTP packets and frames
// that could not be reassembled.
export function videoReport(v, from, to = performance.now()) {
  const pics = v.decoded.between(from, to);
  const delays = pics.map((p) => p.delay).filter((d) => d !== null);
  const inWindow = (xs) => xs.filter((x) => x.at >= from && x.at < to);
  return {
    name: v.name,
    fps: (1000 * pics.length) / (to - from),
    perSecond: v.decoded.perSecond(from, to),
    pictures: pics.length,
    sizes: [...new Set(pics.map((p) => `${p.w}x${p.h}`))],
    badStamps: pics.filter((p) => p.counter === null).length,
    ...v.decoded.counterCheck(from, to),
    delayMedian: median(delays),
    delayP95: percentile(delays, 0.95),
    errors: v.decoded.errors,
    lastError: v.decoded.lastError,
    corrupt: v.decoded.corrupt,
    rtpGaps: inWindow(v.rtp.gapLog).reduce((n, g) => n + g.n, 0),
    incomplete: inWindow(v.reasm.lossLog).length,
    rtpGapsTotal: v.rtp.gaps,
    incompleteTotal: v.reasm.incomplete,
    plisSent: v.plisSent || 0,
  };
}

// Asserts that viewer v decoded a clean stream in [from, to): at least
// minFps pictures per second, every one of them width x height with a
// valid stamp, the frame counter going up by one each time (no picture
// skipped), no lost RTP packet (a clean link loses none) and no frame left
// incomplete; and over the whole stream no decode error and no corrupt
// picture.  Returns the videoReport for printing (rtpGapsTotal and
// incompleteTotal: losses over the whole stream, e.g. while joining).
export function assertCleanVideo(v, from, to, { minFps, width = 640, height = 480, extra = '' } = {}) {
  const r = videoReport(v, from, to);
  const why = () => `${v.name}: ${JSON.stringify(r)}${extra ? `\n${extra}` : ''}`;
  assert.ok(r.fps >= minFps, `${v.name} decoded ${r.fps.toFixed(1)} pictures/s (< ${minFps}), per second ${r.perSecond}\n${why()}`);
  assert.deepEqual(r.sizes, [`${width}x${height}`], `picture sizes decoded\n${why()}`);
  assert.equal(r.badStamps, 0, `pictures whose stamp did not read\n${why()}`);
  assert.equal(r.gaps, 0, `frame counter values skipped (pictures never shown)\n${why()}`);
  assert.equal(r.backwards, 0, `frame counter going backwards\n${why()}`);
  assert.equal(r.errors, 0, `decode errors\n${why()}`);
  assert.equal(r.corrupt, 0, `corrupt pictures\n${why()}`);
  assert.equal(r.rtpGaps, 0, `RTP packets lost (sequence gaps)\n${why()}`);
  assert.equal(r.incomplete, 0, `frames that could not be reassembled\n${why()}`);
  return r;
}
