// SPDX-License-Identifier: GPL-3.0-or-later
//
// A werift viewer in its own process, driven over IPC by ViewerProcess
// (viewer.mjs).  Its own process so that it can be frozen for real: SIGSTOP
// stops everything a frozen browser tab stops (reading RTP, RTCP reports, ICE
// consent checks, SCTP acks), and the kernel drops what the server sends once
// the socket buffer is full.  Nothing in-process imitates that faithfully.

import { Viewer } from './viewer.mjs';

let viewer = null;

// Exits by itself if the parent goes away, so no viewer outlives a test.
process.on('disconnect', () => process.exit(0));

process.on('message', async ({ id, cmd, args }) => {
  let result;
  let error = null;
  try {
    switch (cmd) {
      case 'join':
        viewer = new Viewer(args);
        await viewer.join(args);
        result = { ...viewer.stats(), sessionId: viewer.session.id, handleId: viewer.handle.id };
        break;
      case 'events':
        result = viewer.events;
        break;
      case 'request': {
        const r = await viewer.request(args.body, args.opts);
        result = { data: r.data };
        break;
      }
      case 'stats': {
        const from = args?.from;
        // performance.now() differs between processes: the parent passes
        // a window in ms ago instead of absolute times.
        const now = performance.now();
        result = { ...viewer.stats(), fps: from ? viewer.decoded.fps(now - from, now) : null };
        break;
      }
      case 'close':
        if (viewer) await viewer.close();
        result = true;
        break;
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  } catch (e) {
    error = e.message;
  }
  process.send({ id, result, error });
  if (cmd === 'close') setTimeout(() => process.exit(0), 100);
});

process.send({ ready: true });
