// SPDX-License-Identifier: GPL-3.0-or-later
//
// The decoding werift viewer on a lossy link: random loss of video packets
// inside the test namespace (nftables; netem is not in this kernel).  It
// proves that the viewer's checks see loss (sequence gaps, frames given up,
// counter skips) and that it behaves as a real receiver: it never feeds the
// decoder an incomplete frame, waits for a key frame after a loss and asks
// for one with a PLI, which travels through Janus to the encoder, so the
// picture recovers without the periodic key frame.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setupJanus } from './lib/setup.mjs';
import { Viewer, videoReport } from './lib/viewer.mjs';
import { sleep } from './lib/util.mjs';

const TABLE = 'camloss';

// Drops `percent` % of the UDP datagrams longer than 600 bytes delivered in
// this namespace: the video packets (STUN, DTLS handshakes and RTCP are
// shorter).  Returns a function that removes the rule and gives the number
// of datagrams dropped.
function dropVideo(percent) {
  const nft = (...args) => execFileSync('nft', args, { encoding: 'utf8' });
  nft('add', 'table', 'inet', TABLE);
  nft('add', 'chain', 'inet', TABLE, 'in', '{ type filter hook input priority 0; }');
  nft('add', 'rule', 'inet', TABLE, 'in', 'meta', 'l4proto', 'udp', 'udp', 'length', 'gt', '600',
    'numgen', 'random', 'mod', '100', 'lt', String(percent), 'counter', 'drop');
  let removed = null;
  return () => {
    if (removed !== null) return removed;
    const listing = nft('list', 'table', 'inet', TABLE);
    nft('delete', 'table', 'inet', TABLE);
    removed = Number(/packets (\d+)/.exec(listing)?.[1] ?? NaN);
    return removed;
  };
}

test('2 % video loss: the viewer sees the gaps, feeds no incomplete frame, decodes no error, and recovers through PLIs long before the periodic key frame',
  { timeout: 90000 }, async (t) => {
    // No periodic key frame during the test: only PLIs can bring the picture back.
    const ctx = await setupJanus(t, { set: { keyframe_interval: 600 } });
    const v = new Viewer({ url: ctx.janus.url, name: 'lossy' });
    ctx.cleanups.push(() => v.close());
    await v.join();
    await v.waitFrames(30, 10000);
    const i0 = await ctx.info();

    const undo = dropVideo(2);
    ctx.cleanups.push(() => undo());
    const from = performance.now();
    await sleep(10000);
    const to = performance.now();
    const dropped = undo();
    const r = videoReport(v, from, to);
    const i1 = await ctx.info();
    await sleep(1500);
    const after = videoReport(v, performance.now() - 1000, performance.now());
    const forced = i1.encoder.forced_keyframes - i0.encoder.forced_keyframes;
    console.log(`# 10 s at 2 % video loss: ${dropped} datagrams dropped; viewer: ${r.rtpGaps} RTP packets missing, ` +
      `${r.incomplete} frames given up, ${v.reasm.skippedForKey} delta frames skipped waiting for a key frame, ` +
      `${r.plisSent} PLIs, ${forced} forced key frames; decoded ${r.fps.toFixed(1)} pictures/s (per second ${r.perSecond}), ` +
      `${r.gaps} counter values skipped; decode errors ${r.errors}, corrupt ${r.corrupt}; after the loss ${after.fps.toFixed(1)}/s`);

    assert.ok(dropped > 0, 'the nft rule dropped nothing: the test would prove nothing');
    // The viewer's checks see the loss ...
    assert.ok(r.rtpGaps > 0 || v.rtp.gaps > 0, 'no sequence gap seen despite dropped packets');
    assert.ok(r.incomplete > 0, 'no frame given up despite lost packets');
    assert.ok(r.gaps > 0, 'no frame counter skipped despite frames given up');
    // ... and it behaves as a receiver must: only whole frames, each decoded
    // cleanly, key frames asked for and delivered through Janus.
    assert.equal(r.errors, 0, `decode errors: ${r.lastError}`);
    assert.equal(r.corrupt, 0, 'corrupt pictures: an incomplete or unreferenced frame reached the decoder');
    assert.equal(r.badStamps, 0, 'pictures with an unreadable stamp');
    assert.equal(r.backwards, 0, 'frame counter going backwards');
    assert.ok(r.plisSent > 0, 'the viewer sent no PLI');
    assert.ok(forced > 0, `no forced key frame after ${r.plisSent} PLIs`);
    // It recovers: pictures in most seconds, not one frozen stretch until a
    // periodic key frame (there is none within 600 s).
    assert.ok(r.perSecond.filter((n) => n > 0).length >= 7, `seconds with pictures: ${r.perSecond}`);
    assert.ok(after.fps >= 25, `after the loss ended: ${after.fps.toFixed(1)} pictures/s`);
  });
