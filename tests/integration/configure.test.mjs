// SPDX-License-Identifier: GPL-3.0-or-later
//
// `configure` on a running camera: the answer says what is in force once
// the pipeline applied it, and a change that the source or the encoder
// refuses is answered with 484 and changes nothing, while a werift viewer
// keeps receiving the same stream.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupJanus } from './lib/setup.mjs';
import { Viewer } from './lib/viewer.mjs';
import { sleep } from './lib/util.mjs';

const ADMIN_KEY = '"configure-secret"';

async function setup(t) {
  const ctx = await setupJanus(t, { set: { admin_key: ADMIN_KEY, keyframe_interval: 30 } });
  const v = new Viewer({ url: ctx.janus.url, name: 'watcher' });
  ctx.cleanups.push(() => v.close());
  await v.join();
  await v.waitFrames(10, 15000);
  ctx.watcher = v;
  ctx.configure = async (fields) => (await ctx.adminHandle.message({ request: 'configure', admin_key: 'configure-secret', ...fields })).data;
  return ctx;
}

function settings(info) {
  return { bitrate: info.encoder.bitrate, fps: info.source.fps, keyframe_interval: info.encoder.keyframe_interval,
    width: info.source.width, height: info.source.height };
}

test('configure answers with what is in force; a refused size changes nothing and the viewer keeps its stream', { timeout: 90000 }, async (t) => {
  const ctx = await setup(t);
  const before = settings(await ctx.info());
  assert.deepEqual(before, { bitrate: 1000000, fps: 30, keyframe_interval: 30, width: 640, height: 480 });

  // Accepted: applied before the answer, which says so.
  const ok = await ctx.configure({ bitrate: 600000, fps: 20 });
  assert.equal(ok.camera, 'ok', JSON.stringify(ok));
  assert.deepEqual(ok.applied, { bitrate: 600000, fps: 20, keyframe_interval: 30, width: 640, height: 480 });
  assert.deepEqual(settings(await ctx.info()), ok.applied, 'info agrees with the answer at once');

  // In range for the request, but the test pattern cannot carry its stamp
  // at 4096x64: 484, and the acceptable bitrate in the same request is not
  // applied either.
  const frames0 = ctx.watcher.rtp.frames;
  const refused = await ctx.configure({ bitrate: 300000, fps: 10, width: 4096, height: 64 });
  console.log(`# refused: ${JSON.stringify(refused)}`);
  assert.equal(refused.error_code, 484, JSON.stringify(refused));
  assert.match(refused.error, /4096x64/);
  assert.deepEqual(settings(await ctx.info()), ok.applied, 'nothing changed after the refusal');

  // Out of the request's range: refused before the pipeline sees it.
  const wide = await ctx.configure({ width: 5000, height: 480 });
  assert.equal(wide.error_code, 484, JSON.stringify(wide));
  assert.deepEqual(settings(await ctx.info()), ok.applied);

  // The viewer kept its stream at the accepted rate (20 fps), no gaps.
  const from = performance.now();
  await sleep(2000);
  const fps = ctx.watcher.rtp.fps(from);
  console.log(`# after the refusals: ${fps.toFixed(1)} fps, ${ctx.watcher.rtp.frames - frames0} frames, gaps ${ctx.watcher.rtp.gaps}`);
  assert.ok(fps >= 17 && fps <= 23, `viewer at ${fps.toFixed(1)} fps after fps=20`);
  assert.equal(ctx.watcher.rtp.gaps, 0, 'sequence gaps at the viewer');

  // A new size: in force in the answer, and the stream follows.
  const size = await ctx.configure({ width: 320, height: 240 });
  assert.deepEqual(size.applied, { bitrate: 600000, fps: 20, keyframe_interval: 30, width: 320, height: 240 });
});
