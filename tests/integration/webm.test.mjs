// SPDX-License-Identifier: GPL-3.0-or-later
//
// The reading-back side of recordings, without Janus: the project's pattern
// camera recorded to a .mjr through the same modules the plugin uses
// (tests/tools/mjrwrite: pattern source, pipeline, fan-out, recording),
// turned into WebM by Debian's janus-pp-rec, demuxed by lib/webm.mjs and
// decoded by libvpx (vp8dec), which reads each picture's stamp.  So when
// recording.test.mjs fails against the plugin, these tell whether the
// tooling or the plugin is at fault.  Figures are printed as "# ..." lines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { JANUS_PP_REC, decodeWebm, mjrToWebm, parseWebm, readVp8Webm } from './lib/webm.mjs';
import { makeTmpDir, repoRoot } from './lib/util.mjs';

const MJRWRITE = path.join(repoRoot, 'tests', 'tools', 'mjrwrite');

function record(dir, args) {
  assert.ok(fs.existsSync(MJRWRITE), `no ${MJRWRITE}: build first (make)`);
  const out = execFileSync(MJRWRITE, [dir, 'front', ...args.map(String)],
    { timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  return JSON.parse(out.trim().split('\n').at(-1));
}

function summary(webm, decoded) {
  const { backwards, maxStepMs } = decoded.timeSteps();
  return `${webm.frames.length} frames over ${webm.frames.at(-1)?.timeMs} ms, ${webm.width}x${webm.height}, ` +
    `${webm.frames.filter((f) => f.key).length} key; decoded ${decoded.pictures} (errors ${decoded.errors}, ` +
    `corrupt ${decoded.corrupt}), stamps ${decoded.stamps}/${decoded.pictures}, counter gaps ${decoded.counterGaps}, ` +
    `restarts ${decoded.counterBackwards}, capture time backwards ${backwards}, largest step ${maxStepMs} ms`;
}

test('a 10 s pattern recording (.mjr) -> janus-pp-rec -> WebM: every recorded frame, 10 s of them at the camera\'s size, decoded, stamps going forward',
  { timeout: 120000 }, async () => {
    assert.ok(fs.existsSync(JANUS_PP_REC), `no ${JANUS_PP_REC}: install janus-tools (tools/setup --tests)`);
    const dir = makeTmpDir('webm');
    const st = record(dir, [320, 240, 30, 10]);
    const webmFile = await mjrToWebm(st.file);
    const { webm, decoded } = await decodeWebm(webmFile);
    console.log(`# recorded ${st.frames} frames, ${st.bytes} RTP bytes; WebM: ${summary(webm, decoded)}`);
    assert.equal(webm.docType, 'webm');
    assert.equal(webm.track.codec, 'V_VP8');
    assert.equal(webm.frames.length, st.frames, 'the WebM has every recorded frame');
    assert.ok(Math.abs(webm.frames.length - 300) <= 30, `${webm.frames.length} frames for 10 s at 30 fps`);
    const spanMs = webm.frames.at(-1).timeMs - webm.frames[0].timeMs;
    assert.ok(spanMs >= 9000 && spanMs <= 10500, `the frames span ${spanMs} ms`);
    assert.ok(webm.frames[0].key && webm.frames[0].vp8Key, 'the file starts with a key frame');
    assert.deepEqual([webm.width, webm.height], [320, 240]);
    assert.deepEqual(decoded.sizes, { '320x240': webm.frames.length });
    assert.equal(decoded.errors + decoded.corrupt + decoded.badStamps, 0, decoded.lastError ?? '');
    assert.equal(decoded.counterBackwards, 0);
    assert.ok(decoded.counterGaps <= 15, `${decoded.counterGaps} frames the camera skipped`);
    assert.equal(decoded.timeSteps().backwards, 0, 'capture times go forward');
    // The frames' times in the file follow their capture times.
    for (let i = 1; i < webm.frames.length; i++) assert.ok(webm.frames[i].timeMs > webm.frames[i - 1].timeMs);

    // The same file with Segment and Clusters of unknown size (as a live
    // muxer writes them) reads the same; a file cut short reads its whole
    // frames and says so.
    const buf = fs.readFileSync(webmFile);
    const live = Buffer.from(buf);
    let unknown = 0;
    for (const id of [[0x18, 0x53, 0x80, 0x67], [0x1f, 0x43, 0xb6, 0x75]]) {
      for (let at = live.indexOf(Buffer.from(id)); at >= 0; at = live.indexOf(Buffer.from(id), at + 4)) {
        const sizeAt = at + 4;
        let len = 1;
        while (len <= 8 && !(live[sizeAt] & (0x80 >> (len - 1)))) len++;
        live[sizeAt] = (0xff >> (len - 1)) | (0x80 >> (len - 1));
        for (let i = 1; i < len; i++) live[sizeAt + i] = 0xff;
        unknown++;
      }
    }
    const again = readVp8Webm(live);
    assert.ok(unknown > 2, `${unknown} sizes made unknown`);
    assert.equal(again.frames.length, webm.frames.length, 'unknown sizes: every frame');
    assert.deepEqual(again.frames.map((f) => f.timeMs), webm.frames.map((f) => f.timeMs));
    const cut = parseWebm(buf.subarray(0, Math.floor(buf.length / 2)));
    const cutFrames = cut.blocks.length;
    console.log(`# unknown sizes: ${unknown} elements, ${again.frames.length} frames; cut in half: ${cutFrames} frames, truncated ${cut.truncated}`);
    assert.ok(cut.truncated);
    assert.ok(cutFrames > webm.frames.length / 4 && cutFrames < webm.frames.length, `${cutFrames} frames in half a file`);
  });

test('a recording across a camera outage (the source stops for 1.5 s and returns): playable, a key frame after the gap, the stamps go on',
  { timeout: 120000 }, async () => {
    const dir = makeTmpDir('webm-outage');
    const st = record(dir, [320, 240, 30, 6, 2, 1500]);
    const { webm, decoded } = await decodeWebm(await mjrToWebm(st.file));
    console.log(`# recorded ${st.frames} frames; WebM: ${summary(webm, decoded)}`);
    assert.equal(webm.frames.length, st.frames);
    assert.ok(Math.abs(webm.frames.length - 135) <= 20, `${webm.frames.length} frames for 4.5 s of camera`);
    assert.equal(decoded.errors + decoded.corrupt + decoded.badStamps, 0, decoded.lastError ?? '');
    let gapAt = -1;
    for (let i = 1; i < webm.frames.length; i++) {
      if (webm.frames[i].timeMs - webm.frames[i - 1].timeMs > 1000) gapAt = i;
    }
    assert.ok(gapAt > 0, 'the outage is a gap in the file\'s times');
    const gapMs = webm.frames[gapAt].timeMs - webm.frames[gapAt - 1].timeMs;
    console.log(`# gap of ${gapMs} ms at frame ${gapAt}, then a ${webm.frames[gapAt].key ? 'key' : 'delta'} frame`);
    assert.ok(gapMs >= 1400 && gapMs <= 2000, `gap ${gapMs} ms`);
    assert.ok(webm.frames[gapAt].key && webm.frames[gapAt].vp8Key, 'the camera comes back with a key frame');
    // The pattern's counter starts over with the camera; its capture time goes on.
    assert.equal(decoded.counterBackwards, 1);
    assert.equal(decoded.timeSteps().backwards, 0);
    assert.ok(decoded.timeSteps().maxStepMs >= 1400);
  });
