// SPDX-License-Identifier: GPL-3.0-or-later
//
// tools/serve.mjs GET /snapshot.jpg (issue 9): the plugin's `snapshot`
// through Janus's HTTP API, as a plain JPEG for dashboards.  Two pattern
// cameras of different sizes (the rear one with a PIN); the JPEG's own
// header says its size; unknown cameras, wrong PINs and bad widths get
// their HTTP codes; a client asking too fast gets 429 with Retry-After; and
// serve.mjs's Janus session comes back after Janus forgets it.
// Everything runs in the test namespace (10.10.0.1 / 10.10.0.2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setupJanus } from './lib/setup.mjs';
import { startServer } from './lib/server.mjs';
import { sleep } from './lib/util.mjs';

const REAR_PIN = '1234';
const CONFIG = `general: {
\tadmin_key = "secret"
}
front: {
\tsource = "pattern"
\twidth = 640
\theight = 480
}
rear: {
\tsource = "pattern"
\twidth = 320
\theight = 240
\tfps = 15
\tpin = "${REAR_PIN}"
}
`;

// Width and height from a JPEG's start-of-frame segment (any SOFn), or
// throws: a file that is not a JPEG fails here.
export function jpegSize(buf) {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error('no JPEG SOI marker');
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) throw new Error(`no marker at ${i}`);
    const m = buf[i + 1];
    if (m === 0xff) { i++; continue; }                     // fill byte
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return { width: buf.readUInt16BE(i + 7), height: buf.readUInt16BE(i + 5), sof: m };
    }
    if (m === 0xd9 || m === 0xda) break;                   // end, or scan data before any SOF
    i += 2 + buf.readUInt16BE(i + 2);
  }
  throw new Error('no SOF segment');
}

test('tools/serve.mjs GET /snapshot.jpg: a JPEG of the camera\'s size with its capture time; 403, 404, 400, 429 with Retry-After; a forgotten session comes back',
  { timeout: 120000 }, async (t) => {
    const ctx = await setupJanus(t, { raw: CONFIG });
    const srv = await startServer({ janusUrl: ctx.janus.url });
    ctx.cleanups.push(() => srv.stop());
    // Each request 600 ms apart: under serve.mjs's 2/s per client and the
    // plugin's 2/s per handle.
    const get = async (query) => {
      const t0 = performance.now();
      const r = await fetch(`${srv.base}/snapshot.jpg${query}`, { signal: AbortSignal.timeout(15000) });
      const body = Buffer.from(await r.arrayBuffer());
      const ms = performance.now() - t0;
      const at = Date.now();
      await sleep(600);
      return { status: r.status, headers: r.headers, body, ms, at };
    };
    const jpeg = async (query, w, h) => {
      const asked = Date.now();
      const r = await get(query);
      assert.equal(r.status, 200, `${query}: ${r.status} ${r.body.toString().slice(0, 200)}`);
      assert.equal(r.headers.get('content-type'), 'image/jpeg');
      assert.equal(Number(r.headers.get('content-length')), r.body.length);
      const size = jpegSize(r.body);
      assert.equal(`${size.width}x${size.height}`, `${w}x${h}`, `${query}: the JPEG's own size`);
      assert.equal(r.headers.get('x-image-width'), String(w));
      const captured = Number(r.headers.get('x-capture-time'));
      // On demand and nobody watching: the plugin starts the camera for it.
      assert.ok(captured > asked - 3000 && captured <= Date.now() + 50, `${query}: captured ${asked - captured} ms before asking`);
      assert.equal(new Date(r.headers.get('last-modified')).getTime(), Math.floor(captured / 1000) * 1000);
      console.log(`# ${query || '(no camera)'}: ${r.body.length} bytes ${w}x${h} in ${r.ms.toFixed(0)} ms, captured ${r.at - captured} ms before it arrived`);
      return r;
    };

    await jpeg('?camera=front', 640, 480);
    const dflt = await jpeg('', 640, 480);
    assert.equal(dflt.headers.get('x-camera'), 'front', 'no camera: the first one');
    await jpeg(`?camera=rear&pin=${REAR_PIN}`, 320, 240);
    await jpeg(`?camera=rear&pin=${REAR_PIN}&width=160`, 160, 120);

    assert.equal((await get('?camera=nope')).status, 404, 'unknown camera');
    assert.equal((await get('?camera=..%2Fx')).status, 404, 'not even a camera id');
    assert.equal((await get('?camera=rear')).status, 403, 'no PIN (plugin 486)');
    assert.equal((await get('?camera=rear&pin=0000')).status, 403, 'wrong PIN (plugin 486)');
    assert.equal((await get('?camera=front&width=abc')).status, 400);
    assert.equal((await get('?camera=front&width=15')).status, 400, 'width below 16 (plugin 484)');

    // Janus forgets serve.mjs's session (here: destroyed through the admin
    // API, as a session timeout would): the next snapshot makes a new one.
    const sessions = (await ctx.janus.admin('list_sessions')).sessions || [];
    for (const s of sessions) {
      if (s !== ctx.admin.id) await ctx.janus.admin('destroy_session', {}, { session: s });
    }
    await jpeg('?camera=front', 640, 480);
    assert.match(fs.readFileSync(srv.logFile, 'utf8'), /snapshot client front: Janus forgot session \d+; making a new one/);

    // Hammered: 12 at once from one client; 2 pass, the rest are 429 (here,
    // or the plugin's 490) with Retry-After.
    const rs = await Promise.all(Array.from({ length: 12 }, () =>
      fetch(`${srv.base}/snapshot.jpg?camera=front`, { signal: AbortSignal.timeout(15000) })
        .then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), len: (await r.arrayBuffer()).byteLength }))));
    const codes = rs.map((r) => r.status);
    console.log(`# 12 at once: ${codes.join(' ')}`);
    assert.ok(codes.filter((c) => c === 200).length >= 1, `some pass: ${codes}`);
    assert.ok(codes.filter((c) => c === 429).length >= 8, `most are refused: ${codes}`);
    assert.deepEqual(codes.filter((c) => c !== 200 && c !== 429), [], 'nothing but 200 and 429');
    for (const r of rs.filter((x) => x.status === 429)) assert.ok(Number(r.retry) >= 1, `Retry-After: ${r.retry}`);
    await sleep(1500);
    await jpeg('?camera=front', 640, 480);  // the bucket refills
  });
