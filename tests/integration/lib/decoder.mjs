// SPDX-License-Identifier: GPL-3.0-or-later
//
// A real VP8 decoder for a werift viewer: frames reassembled from RTP
// (vp8.mjs) go to one tests/tools/vp8dec process (libvpx, one thread), which
// answers one JSON line per frame.  Decoded holds what came back: pictures,
// their sizes, decode errors, corruption, and the test pattern's stamp
// (frame counter and capture time, shared/api.md) read from each picture, so
// a test asserts on what a viewer could really have shown.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { repoRoot, withTimeout } from './util.mjs';

export const VP8DEC = path.join(repoRoot, 'tests', 'tools', 'vp8dec');

// (now - time) in ms, both CLOCK_REALTIME ms mod 2^32 as the stamp's.
export function stampDelayMs(now, time) {
  const d = ((now - time) % 2 ** 32 + 2 ** 32) % 2 ** 32;
  return d > 2 ** 31 ? d - 2 ** 32 : d;
}

// Everything the decoder said, counted, plus a per-picture record (capped)
// so that a test can judge a window of time: what arrived after a
// `configure`, how many pictures per second, ...
export class Decoded {
  constructor() {
    this.pictures = 0;       // decoded pictures
    this.keyframes = 0;      // ... of them key frames
    this.errors = 0;         // frames libvpx refused
    this.lastError = null;
    this.corrupt = 0;        // pictures libvpx flagged as corrupt
    this.sizes = {};         // "640x480" -> pictures
    this.width = null;
    this.height = null;
    this.bytes = 0;          // VP8 bytes of the decoded pictures
    this.stamps = 0;         // pictures whose stamp read with both checks
    this.badStamps = 0;      // ... and whose did not
    this.lastCounter = null;
    this.counterGaps = 0;    // counter values skipped (frames the viewer never showed)
    this.counterJumps = [];  // [{from, to}] each skip, first 100
    this.counterBackwards = 0; // counter not above the previous one (a replay, or a source restart)
    this.delays = [];        // glass-to-glass ms (decode end - capture time), capped
    this.firstPictureAt = null;
    this.firstKeyAt = null;
    this.log = [];           // [{at, ts, key, w, h, bytes, counter, delay}], capped
    this.max = 100000;
  }

  add(m, at) {
    if (!m.decoded) {
      this.errors++;
      this.lastError = `${m.error}${m.detail ? `: ${m.detail}` : ''} (${m.bytes} bytes, ${m.key ? 'key' : 'delta'})`;
      return;
    }
    this.pictures++;
    if (this.firstPictureAt === null) this.firstPictureAt = at;
    if (m.key) {
      this.keyframes++;
      if (this.firstKeyAt === null) this.firstKeyAt = at;
    }
    if (m.corrupt) this.corrupt++;
    const size = `${m.width}x${m.height}`;
    this.sizes[size] = (this.sizes[size] || 0) + 1;
    this.width = m.width;
    this.height = m.height;
    this.bytes += m.bytes;
    let delay = null;
    if (m.stamp) {
      this.stamps++;
      this.#counter(m.counter);
      delay = stampDelayMs(m.now, m.time);
      if (this.delays.length < this.max) this.delays.push(delay);
    } else {
      this.badStamps++;
    }
    if (this.log.length < this.max) {
      this.log.push({ at, ts: m.ts, key: m.key, w: m.width, h: m.height, bytes: m.bytes,
        counter: m.stamp ? m.counter : null, delay });
    }
  }

  #counter(c) {
    const last = this.lastCounter;
    this.lastCounter = c;
    if (last === null) return;
    if (c <= last) {
      this.counterBackwards++;
    } else if (c > last + 1) {
      this.counterGaps += c - last - 1;
      if (this.counterJumps.length < 100) this.counterJumps.push({ from: last, to: c });
    }
  }

  // The pictures decoded in [from, to) (performance.now ms).
  between(from, to = performance.now()) {
    return this.log.filter((p) => p.at >= from && p.at < to);
  }

  fps(from, to = performance.now()) {
    return (1000 * this.between(from, to).length) / (to - from);
  }

  // Pictures per whole second since `from`, e.g. [30, 29, 30, ...].
  perSecond(from, to = performance.now()) {
    const out = [];
    for (let s = from; s + 1000 <= to; s += 1000) out.push(this.between(s, s + 1000).length);
    return out;
  }

  // VP8 bit rate of the pictures decoded in the window, bit/s.
  bitrate(from, to = performance.now()) {
    return (8000 * this.between(from, to).reduce((n, p) => n + p.bytes, 0)) / (to - from);
  }

  // Counter skips and backward steps among the pictures of a window.
  counterCheck(from, to = performance.now()) {
    let gaps = 0;
    let backwards = 0;
    let last = null;
    for (const p of this.between(from, to)) {
      if (p.counter === null) continue;
      if (last !== null && p.counter <= last) backwards++;
      else if (last !== null && p.counter > last + 1) gaps += p.counter - last - 1;
      last = p.counter;
    }
    return { gaps, backwards };
  }

  snapshot() {
    const { pictures, keyframes, errors, lastError, corrupt, sizes, width, height, bytes, stamps, badStamps,
      lastCounter, counterGaps, counterBackwards } = this;
    return { pictures, keyframes, errors, lastError, corrupt, sizes, width, height, bytes, stamps, badStamps,
      lastCounter, counterGaps, counterBackwards };
  }
}

const CLK_TCK = 100; // Linux's USER_HZ on every architecture Debian ships

// CPU time (ms, user + system) a process used, from /proc.
function cpuMsOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

// One vp8dec process.  feed() queues a frame; results land in `decoded`.
export class Vp8Decoder {
  constructor({ name = 'decoder', threads = 1 } = {}) {
    if (!fs.existsSync(VP8DEC)) throw new Error(`no decoder at ${VP8DEC}: build first (make)`);
    this.name = name;
    this.decoded = new Decoded();
    this.fedFrames = 0;
    this.stderr = '';
    this.end = null; // the decoder's closing line
    this.proc = spawn(VP8DEC, ['--threads', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.proc.stdin.on('error', () => {}); // EPIPE after a crash: exit status and stderr tell
    this.proc.stderr.on('data', (b) => { if (this.stderr.length < 10000) this.stderr += b; });
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => this.#line(line));
  }

  #line(line) {
    const at = performance.now();
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      this.stderr += `unparsable line: ${line.slice(0, 200)}\n`;
      return;
    }
    if (m.end) this.end = m;
    else this.decoded.add(m, at);
  }

  get pid() {
    return this.proc.pid;
  }

  get running() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  feed({ ts, data }) {
    if (!this.running || this.proc.stdin.destroyed) return;
    const head = Buffer.alloc(8);
    head.writeUInt32LE(data.length, 0);
    head.writeUInt32LE(ts >>> 0, 4);
    this.proc.stdin.write(Buffer.concat([head, data]));
    this.fedFrames++;
  }

  // CPU time (ms) the decoder used so far (its own figure once it ended).
  cpuMs() {
    return this.end ? this.end.cpu_ms : cpuMsOf(this.proc.pid);
  }

  // Ends the stream and waits for the decoder to say goodbye; kills it if
  // it does not within 3 s.  Returns its exit {code, signal}.
  async close() {
    if (this.running) this.proc.stdin.end();
    const r = await withTimeout(this.exited, 3000, `${this.name}: vp8dec exit`).catch(() => null);
    if (r) return r;
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}
