// SPDX-License-Identifier: GPL-3.0-or-later
//
// VP8 over RTP on the receiving side (RFC 7741): the payload descriptor
// (section 4.2), and frames reassembled from packets (section 4.5) the way a
// real receiver does it, to feed a decoder (decoder.mjs).

// Returns {start, keyframe, pictureId, headerLen} for one RTP payload
// (headerLen: the descriptor's length, where the VP8 bytes begin), or null
// when the payload is too short to hold a descriptor.
export function parseVp8(payload) {
  if (!payload || payload.length < 1) return null;
  const b0 = payload[0];
  const x = (b0 & 0x80) !== 0;
  const s = (b0 & 0x10) !== 0;
  const pid = b0 & 0x07;
  let i = 1;
  let pictureId = null;
  if (x) {
    if (payload.length < 2) return null;
    const b1 = payload[1];
    i = 2;
    if (b1 & 0x80) { // I: picture ID, 7 or 15 bits
      if (payload.length <= i) return null;
      if (payload[i] & 0x80) {
        if (payload.length <= i + 1) return null;
        pictureId = ((payload[i] & 0x7f) << 8) | payload[i + 1];
        i += 2;
      } else {
        pictureId = payload[i];
        i += 1;
      }
    }
    if (b1 & 0x40) i += 1; // L: TL0PICIDX
    if (b1 & 0x30) i += 1; // T or K: TID/Y/KEYIDX
  }
  const start = s && pid === 0;
  // The VP8 payload header's P bit (bit 0 of its first byte) is 0 for a key
  // frame; it is only present in the first packet of a partition 0.
  const keyframe = start && payload.length > i && (payload[i] & 0x01) === 0;
  if (payload.length < i) return null;
  return { start, keyframe, pictureId, headerLen: i };
}

const newer = (a, b) => a !== b && ((a - b) >>> 0) < 0x80000000; // RTP timestamps, mod 2^32
const seqDiff = (a, b) => (a - b + 65536) % 65536;

// How long a frame with a missing packet may wait for the retransmission
// (NACK) that would complete it, while later frames queue behind it.
export const HOLD_MS = 100;
// At most this many frames wait; beyond, the oldest is given up.
const MAX_PENDING = 64;

// Reassembles VP8 frames from RTP packets and hands them on in order, as a
// receiver's jitter buffer does: a frame is the packets of one RTP timestamp
// from a start packet (S = 1, PID = 0) to the marker bit, with no sequence
// number missing in between, and its first packet must follow the previous
// frame's last one (else a whole frame went missing).  Duplicates and
// reordering are fine.  A frame that is not complete within HOLD_MS of its
// first packet, once a later one is, is given up; it is never handed on, and
// after it the receiver waits for the next key frame, as a real receiver must
// (a delta frame without its reference decodes to garbage).
// onFrame({ts, data, keyframe, packets}) gets each frame that a decoder
// should see; onLoss() is called when a frame is given up and for each delta
// frame skipped while waiting for a key frame (a receiver would ask for one).
export class Vp8Reassembler {
  constructor(onFrame, onLoss = () => {}, clock = () => performance.now()) {
    this.onFrame = onFrame;
    this.onLoss = onLoss;
    this.clock = clock;
    this.lossLog = [];        // [{at, ts}] frames given up (performance.now), capped
    this.pending = new Map(); // ts -> {packets: Map(seq -> payload), startSeq, endSeq, firstAt}
    this.lastDoneTs = null;   // the newest frame handed on or given up
    this.lastEndSeq = null;   // the last packet of the last frame handed on (null: unknown)
    this.needKey = true;      // nothing decodable before the first key frame
    this.complete = 0;        // frames reassembled whole
    this.fed = 0;             // ... and handed on
    this.incomplete = 0;      // frames given up (a packet missing, or a whole frame)
    this.skippedForKey = 0;   // whole delta frames not fed while waiting for a key frame
    this.late = 0;            // packets of a frame already handed on or given up
    this.malformed = 0;       // payloads without a valid descriptor
  }

  onRtp(rtp) {
    const h = rtp.header;
    const d = parseVp8(rtp.payload);
    if (!d) {
      this.malformed++;
      return;
    }
    if (this.lastDoneTs !== null && !newer(h.timestamp, this.lastDoneTs)) {
      this.late++;
      return;
    }
    let f = this.pending.get(h.timestamp);
    if (!f) {
      f = { packets: new Map(), startSeq: null, endSeq: null, firstAt: this.clock() };
      this.pending.set(h.timestamp, f);
    }
    if (f.packets.has(h.sequenceNumber)) return; // a duplicate (retransmission)
    f.packets.set(h.sequenceNumber, rtp.payload.subarray(d.headerLen));
    if (d.start) f.startSeq = h.sequenceNumber;
    if (h.marker) f.endSeq = h.sequenceNumber;
    this.#drain(this.clock());
  }

  #isComplete(f) {
    if (f.startSeq === null || f.endSeq === null) return false;
    const n = seqDiff(f.endSeq, f.startSeq) + 1;
    if (n > f.packets.size) return false;
    for (let i = 0; i < n; i++) if (!f.packets.has((f.startSeq + i) % 65536)) return false;
    return true;
  }

  #oldestPending() {
    let best = null;
    for (const ts of this.pending.keys()) if (best === null || newer(best, ts)) best = ts;
    return best;
  }

  // Hands on (or gives up) frames from the oldest, as far as they can go.
  #drain(now) {
    for (;;) {
      const ts = this.#oldestPending();
      if (ts === null) return;
      const f = this.pending.get(ts);
      const complete = this.#isComplete(f);
      const follows = this.lastEndSeq === null || (complete && f.startSeq === (this.lastEndSeq + 1) % 65536);
      if (complete && follows) {
        this.#finish(ts, f);
        continue;
      }
      const crowded = this.pending.size > MAX_PENDING;
      const laterComplete = [...this.pending].some(([t2, f2]) => t2 !== ts && this.#isComplete(f2));
      if (!crowded && (now - f.firstAt < HOLD_MS || (!complete && !laterComplete))) return;
      // Lost: this frame's missing packets, or a whole frame before it.
      this.#lost(ts);
      if (complete) {
        this.#finish(ts, f);
      } else {
        this.pending.delete(ts);
        this.lastDoneTs = ts;
      }
    }
  }

  #lost(ts) {
    this.incomplete++;
    if (this.lossLog.length < 10000) this.lossLog.push({ at: this.clock(), ts });
    this.needKey = true;
    this.lastEndSeq = null;
    this.onLoss();
  }

  #finish(ts, f) {
    this.pending.delete(ts);
    this.lastDoneTs = ts;
    this.lastEndSeq = f.endSeq;
    this.complete++;
    const n = seqDiff(f.endSeq, f.startSeq) + 1;
    const parts = [];
    for (let i = 0; i < n; i++) parts.push(f.packets.get((f.startSeq + i) % 65536));
    const data = Buffer.concat(parts);
    // RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame.
    const keyframe = data.length > 0 && (data[0] & 1) === 0;
    if (this.needKey && !keyframe) {
      this.skippedForKey++;
      this.onLoss();
      return;
    }
    if (keyframe) this.needKey = false;
    this.fed++;
    this.onFrame({ ts, data, keyframe, packets: n });
  }

  snapshot() {
    const { complete, fed, incomplete, skippedForKey, late, malformed } = this;
    return { complete, fed, incomplete, skippedForKey, late, malformed };
  }
}
