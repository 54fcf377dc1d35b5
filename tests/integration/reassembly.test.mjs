// SPDX-License-Identifier: GPL-3.0-or-later
//
// The decoding viewer's RTP side on its own (lib/vp8.mjs, no Janus): VP8
// frames reassembled from packets in order, with reordering, duplicates,
// retransmissions within the hold time, lost packets and lost whole frames,
// and sequence numbers that wrap.  What it hands on is what the decoder
// sees, so it must never hand on a frame with a hole, nor a delta frame
// after a loss.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vp8Reassembler, HOLD_MS } from './lib/vp8.mjs';

// RTP packets for frames [{key, n}]: frame i has RTP timestamp 1000 + 3000 i;
// its payloads carry a descriptor (S=1 on the first), then a frame tag whose
// bit 0 is 0 for a key frame.
function packets(frames, seq0 = 100) {
  const out = [];
  let seq = seq0;
  frames.forEach((fr, i) => {
    for (let p = 0; p < fr.n; p++) {
      const desc = Buffer.from([p === 0 ? 0x10 : 0x00]);
      const body = Buffer.from([p === 0 ? (fr.key ? 0x00 : 0x01) : 0x55, i]);
      out.push({ header: { sequenceNumber: seq++ % 65536, timestamp: 1000 + 3000 * i, marker: p === fr.n - 1 }, payload: Buffer.concat([desc, body]) });
    }
  });
  return out;
}

// Feeds packets, and {wait: ms} steps of a fake clock; returns the frame
// indices handed on, the counters and the number of loss calls.
function run(steps) {
  let now = 0;
  const fed = [];
  let losses = 0;
  const r = new Vp8Reassembler((f) => fed.push(f), () => losses++, () => now);
  for (const s of steps) {
    if (s.wait) now += s.wait;
    else r.onRtp(s);
  }
  return { ...r.snapshot(), fed: fed.map((f) => (f.ts - 1000) / 3000), keys: fed.map((f) => f.keyframe), data: fed.map((f) => [...f.data]), losses };
}

const FRAMES = [{ key: true, n: 3 }, { n: 2 }, { n: 1 }, { n: 2 }, { key: true, n: 2 }, { n: 1 }];
const ALL = [0, 1, 2, 3, 4, 5];
// Every packet after the first `upTo` comes after more than the hold time.
const spaced = (ps, from = 0) => ps.flatMap((p, i) => (i >= from ? [{ wait: HOLD_MS + 20 }, p] : [p]));

test('reassembly: whole frames in order, with their payloads joined and key frames told apart', () => {
  const r = run(packets(FRAMES));
  assert.deepEqual(r.fed, ALL);
  assert.deepEqual(r.keys, [true, false, false, false, true, false]);
  // Descriptors stripped, payloads joined in sequence order.
  assert.deepEqual(r.data[0], [0x00, 0, 0x55, 0, 0x55, 0]);
  assert.deepEqual(r.data[1], [0x01, 1, 0x55, 1]);
  assert.equal(r.incomplete + r.losses, 0);
});

test('reassembly: reordering within and across frames, duplicates and wrapping sequence numbers change nothing', () => {
  const p = packets(FRAMES, 65533);
  const q = [p[0], p[2], p[1], p[4], p[5], p[3], ...p.slice(6)].flatMap((x) => [x, x]);
  const r = run(q);
  assert.deepEqual(r.fed, ALL);
  assert.equal(r.incomplete + r.losses, 0);
});

test('reassembly: a packet retransmitted within the hold time completes its frame, and the frames behind it follow', () => {
  const p = packets(FRAMES);
  const r = run([...p.slice(0, 4), p[5], p[6], { wait: HOLD_MS / 2 }, p[4], ...p.slice(7)]);
  assert.deepEqual(r.fed, ALL);
  assert.equal(r.incomplete, 0);
});

test('reassembly: a lost packet loses its frame and every delta frame up to the next key frame, which asks for one', () => {
  const p = packets(FRAMES);
  const r = run(spaced(p.filter((_, i) => i !== 4), 4));
  assert.deepEqual(r.fed, [0, 4, 5]);
  assert.equal(r.incomplete, 1);
  assert.equal(r.skippedForKey, 2);
  assert.ok(r.losses >= 1);
});

test('reassembly: a whole frame lost is noticed by the sequence numbers; the next delta frame is not handed on', () => {
  const p = packets(FRAMES);
  const r = run(spaced(p.filter((_, i) => i !== 5), 5)); // frame 2's only packet
  assert.deepEqual(r.fed, [0, 1, 4, 5]);
  assert.equal(r.incomplete, 1);
});

test('reassembly: a retransmission after the frame was given up is counted late and changes nothing', () => {
  const p = packets(FRAMES);
  const r = run([...spaced(p.filter((_, i) => i !== 4), 4), p[4]]);
  assert.deepEqual(r.fed, [0, 4, 5]);
  assert.equal(r.late, 1);
});

test('reassembly: a stream that starts with delta frames hands on nothing before its first key frame', () => {
  const r = run(packets([{ n: 2 }, { n: 1 }, { key: true, n: 2 }, { n: 1 }]));
  assert.deepEqual(r.fed, [2, 3]);
  assert.equal(r.skippedForKey, 2);
});
