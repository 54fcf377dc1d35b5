// SPDX-License-Identifier: GPL-3.0-or-later
//
// One process of the benchmark's viewer pool (viewers.mjs): holds werift
// viewers and answers add / stats / closeAll over IPC.

import { BenchViewer } from './viewers.mjs';

const viewers = [];
let seq = 0;

// No viewer outlives the benchmark: the parent gone means we go too.
process.on('disconnect', () => process.exit(0));

process.on('message', async ({ id, cmd, args }) => {
  let result = null;
  let error = null;
  try {
    if (cmd === 'add') {
      const v = new BenchViewer(args.target, `viewer-${process.pid}-${++seq}`);
      viewers.push(v);
      await v.join();
      result = true;
    } else if (cmd === 'stats') {
      // Windows are given as "the last N ms": performance.now() differs
      // between processes.
      const now = performance.now();
      result = viewers.map((v) => ({
        fps: v.rtp.fps(now - args.windowMs, now),
        frames: v.rtp.frames,
        keyframes: v.rtp.keyframes,
        gaps: v.rtp.gaps,
        bytes: v.rtp.bytes,
        firstKeyframeMs: v.rtp.firstKeyframeAt === null ? null : v.rtp.firstKeyframeAt - v.t0,
      }));
    } else if (cmd === 'closeAll') {
      await Promise.allSettled(viewers.map((v) => v.close()));
      viewers.length = 0;
      result = true;
    } else {
      throw new Error(`unknown command ${cmd}`);
    }
  } catch (e) {
    error = e.message;
  }
  process.send({ id, result, error });
});
