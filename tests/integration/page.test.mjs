// SPDX-License-Identifier: GPL-3.0-or-later
//
// The demo page as a new user deploys it (issue 8), each test in Chromium
// (playwright-core) and in Firefox ESR (puppeteer-core over WebDriver BiDi),
// the same body for both (lib/browser.mjs openBrowser):
// - served by a plain static server (python3 -m http.server over html/ plus
//   Debian's janus.js and adapter.js) beside a Janus on its default ports,
//   with no ?server=: it finds Janus itself, also when it must fall back;
// - ?ice= and settings.js reach the RTCPeerConnection's configuration, and a
//   bad ?ice= is reported, not fatal;
// - a closed tab leaves Janus within 1 s, with either server;
// - the control pad drives the device program;
// - a SIGKILLed browser is dropped by the plugin's viewer liveness;
// - two cameras side by side (issue 9): each view its own camera, snapshot
//   button, PIN field, and reconnect.
// Everything runs in the test namespace (10.10.0.1 / 10.10.0.2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setupJanus } from './lib/setup.mjs';
import { startServer } from './lib/server.mjs';
import { Device } from './lib/device.mjs';
import { BROWSERS, openBrowser, inboundVideo, readStamp, waitDecoded } from './lib/browser.mjs';
import { SERVER_IP, makeTmpDir, repoRoot, sleep, tailFile, waitFor } from './lib/util.mjs';

const STATIC_PORT = 8000;

// A plain static server: html/ and Debian's janus.js/adapter.js copied into
// one folder (camera.html loads ./janus.js and ./adapter.js), plus `extra`
// files {name: text}.  No /janus proxy, no settings.js unless given.
async function startStaticServer(ctx, extra = {}) {
  const dir = makeTmpDir('static');
  const html = path.join(repoRoot, 'html');
  for (const f of fs.readdirSync(html)) fs.copyFileSync(path.join(html, f), path.join(dir, f));
  fs.copyFileSync('/usr/share/javascript/janus-gateway/janus.js', path.join(dir, 'janus.js'));
  fs.copyFileSync('/usr/share/javascript/webrtc-adapter/adapter.js', path.join(dir, 'adapter.js'));
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), text);
  const logFile = path.join(dir, 'http.log');
  const fd = fs.openSync(logFile, 'a');
  // Debian's Python (a python3 earlier on PATH may be another one).
  const proc = spawn('/usr/bin/python3', ['-m', 'http.server', String(STATIC_PORT), '--bind', SERVER_IP, '--directory', dir],
    { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  ctx.cleanups.push(() => proc.kill('SIGTERM'));
  const base = `http://${SERVER_IP}:${STATIC_PORT}`;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`http.server exited\n${tailFile(logFile)}`);
    const r = await fetch(`${base}/camera.html`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  }, { timeout: 10000, interval: 100, what: () => `python3 -m http.server serving camera.html\n${tailFile(logFile)}` });
  return { base, pageUrl: `${base}/camera.html`, logFile };
}

// A browser of `kind` for this test, closed when it ends.
async function browserFor(ctx, kind) {
  const b = await openBrowser(kind);
  ctx.cleanups.push(() => b.close());
  return b;
}

const demo = (tab) => tab.evaluate(() => {
  const d = window.cameraDemo;
  return d ? {
    state: d.state, error: d.error, viewerId: d.viewerId, server: d.server, servers: d.servers, tried: d.tried,
    iceServers: d.iceServers, configErrors: d.configErrors, dataChannel: d.dataChannel, controller: d.controller,
    isController: d.isController, controllerText: d.controllerText, sentDrive: d.sentDrive,
    message: document.getElementById('message').textContent,
    pcIceServers: d.pc ? d.pc.getConfiguration().iceServers : null,
    panelShown: !document.getElementById('control-panel').hidden,
    pickerShown: d.pickerShown, shown: d.shown, cameras: d.cameras,
  } : null;
});

// What the page believes of each shown camera's view, by camera id.
const views = (tab) => tab.evaluate(() => {
  const d = window.cameraDemo;
  const out = {};
  for (const id of d.shown) {
    const v = d.view(id);
    const el = document.querySelector(`section[data-camera="${id}"]`);
    const video = el.querySelector('video');
    out[id] = {
      state: v.state, error: v.error, viewerId: v.viewerId, reconnects: v.reconnects, snapshot: v.snapshot,
      videoWidth: video.videoWidth, videoHeight: video.videoHeight,
      pinShown: !el.querySelector('[data-f="pin-form"]').hidden,
      snapshotError: el.querySelector('[data-f="snapshot-error"]').textContent,
    };
  }
  return out;
});

// Waits until the page says it watches, and returns what it says.
async function watching(tab, what, { timeout = 25000, pred = () => true } = {}) {
  let last = null;
  return waitFor(async () => {
    last = await demo(tab);
    return last && last.state === 'watching' && last.viewerId && pred(last) ? last : null;
  }, { timeout, what: () => `${tab.kind}: ${what} (last: ${JSON.stringify(last)?.slice(0, 600)})\n` +
    `page errors: ${tab.errors.join('; ') || 'none'}\nconsole:\n${tab.consoleLog.slice(-20).join('\n')}` });
}

// Decoded video at 640x480 and the stamp read back from the picture twice,
// its counter advancing: the page really plays.
async function assertPlays(tab) {
  const first = await waitDecoded(tab, { frames: 5, timeout: 20000 });
  await sleep(1000);
  const st = await inboundVideo(tab);
  assert.equal(st.frameWidth, 640, `${tab.kind} frameWidth: ${JSON.stringify(st)}`);
  assert.equal(st.frameHeight, 480, `${tab.kind} frameHeight: ${JSON.stringify(st)}`);
  assert.ok(st.framesDecoded - first.framesDecoded >= 15, `${tab.kind}: ${st.framesDecoded - first.framesDecoded} frames decoded in 1 s`);
  const stamp = async () => waitFor(async () => { const s = await readStamp(tab); return s.error ? null : s; },
    { timeout: 5000, what: `${tab.kind}: a readable stamp in the <video>` });
  const s1 = await stamp();
  await sleep(500);
  const s2 = await stamp();
  assert.ok(s2.counter - s1.counter >= 5 && s2.counter - s1.counter <= 60,
    `${tab.kind}: stamp counter ${s1.counter} -> ${s2.counter} in ${s2.now - s1.now} ms`);
  return { st, s1, s2 };
}

// Polls info until no viewer is left; returns the ms since `t0`.
async function msToNoViewers(ctx, t0, timeout, what) {
  let last = null;
  await waitFor(async () => (last = await ctx.info()).viewers === 0, {
    timeout, interval: 10, what: () => `info.viewers == 0 within ${timeout} ms ${what} (viewers ${last?.viewers})\n${ctx.logExcerpt()}`,
  });
  return performance.now() - t0;
}

// Issue 9: two pattern cameras, different sizes and rates; the rear one
// needs a PIN.
const ADMIN_KEY = 'secret';
const REAR_PIN = '1234';
const TWO_CAMERAS = `general: {
	admin_key = "${ADMIN_KEY}"
}
front: {
	description = "Front"
	source = "pattern"
	width = 640
	height = 480
	fps = 30
}
rear: {
	description = "Rear"
	source = "pattern"
	width = 320
	height = 240
	fps = 15
	pin = "${REAR_PIN}"
}
`;

const iceUrls = (list) => (list || []).map((s) => [s.urls].flat().join(' '));

for (const kind of BROWSERS) {
  test(`${kind}: the page served by a plain static server finds Janus on its default ports (no ?server=) and plays`,
    { timeout: 120000 }, async (t) => {
      const ctx = await setupJanus(t); // HTTP 8088, WebSocket 8188: Janus's defaults
      const srv = await startStaticServer(ctx);
      const browser = await browserFor(ctx, kind);
      const t0 = performance.now();
      const tab = await browser.open(srv.pageUrl);
      const d = await watching(tab, 'watching, Janus found by itself');
      console.log(`# ${kind}: page load -> watching ${(performance.now() - t0).toFixed(0)} ms via ${d.server}; tried first: ${d.tried.join('; ')}`);
      assert.equal(d.server, `http://${SERVER_IP}:8088/janus`, 'the HTTP transport on its default port');
      assert.deepEqual(d.servers, [`${srv.base}/janus`, `http://${SERVER_IP}:8088/janus`, `ws://${SERVER_IP}:8188`]);
      assert.match(d.tried[0] || '', /:8000\/janus/, 'the same-origin /janus was tried first (and refused)');
      assert.equal(d.pickerShown, false, 'one camera: no camera picker');
      const { st, s2 } = await assertPlays(tab);
      console.log(`# ${kind}: ${st.frameWidth}x${st.frameHeight}, ${st.framesDecoded} frames decoded, stamp counter ${s2.counter}`);
      assert.deepEqual(tab.errors, [], 'no uncaught errors (a missing settings.js costs nothing)');
    });

  test(`${kind}: with the HTTP transport on another port the page falls back to the WebSocket one and plays`,
    { timeout: 120000 }, async (t) => {
      const ctx = await setupJanus(t, { httpPort: 8090 }); // WebSocket stays on 8188
      const srv = await startStaticServer(ctx);
      const browser = await browserFor(ctx, kind);
      const t0 = performance.now();
      const tab = await browser.open(srv.pageUrl);
      const d = await watching(tab, 'watching over the WebSocket transport');
      console.log(`# ${kind}: page load -> watching ${(performance.now() - t0).toFixed(0)} ms via ${d.server} after: ${d.tried.join('; ')}`);
      assert.equal(d.server, `ws://${SERVER_IP}:8188`);
      assert.equal(d.tried.length, 2, `two failed candidates first: ${d.tried}`);
      await assertPlays(tab);
    });

  test(`${kind}: ?server= given twice: a server that accepts and never answers costs at most 3 s, then the next one plays`,
    { timeout: 120000 }, async (t) => {
      const ctx = await setupJanus(t);
      const srv = await startStaticServer(ctx);
      // Accepts connections and never says a word (a hung proxy, a wrong
      // service): janus.js alone would wait for it forever.
      const held = [];
      const silent = net.createServer((c) => held.push(c));
      await new Promise((resolve) => silent.listen(8099, SERVER_IP, resolve));
      ctx.cleanups.push(() => { for (const c of held) c.destroy(); silent.close(); });
      const browser = await browserFor(ctx, kind);
      const t0 = performance.now();
      const tab = await browser.open(`${srv.pageUrl}?server=${encodeURIComponent(`http://${SERVER_IP}:8099/janus`)}` +
        `&server=${encodeURIComponent(`ws://${SERVER_IP}:8188`)}`);
      const d = await watching(tab, 'watching over the second ?server=');
      const ms = performance.now() - t0;
      console.log(`# ${kind}: page load -> watching ${ms.toFixed(0)} ms via ${d.server} after: ${d.tried.join('; ')}`);
      assert.deepEqual(d.servers, [`http://${SERVER_IP}:8099/janus`, `ws://${SERVER_IP}:8188`], 'both ?server=, in order, nothing else');
      assert.equal(d.server, `ws://${SERVER_IP}:8188`);
      assert.match(d.tried[0] || '', /8099\/janus: no answer/);
      assert.ok(held.length >= 1, 'the silent server was really asked');
      await waitDecoded(tab, { frames: 5, timeout: 20000 });
    });

  test(`${kind}: ?ice= and settings.js reach the RTCPeerConnection; a bad ?ice= is reported and the page still plays`,
    { timeout: 150000 }, async (t) => {
      const ctx = await setupJanus(t);
      // settings.js: a server list (only the WebSocket) and STUN servers.
      const settings = `window.cameraSettings = { servers: ['ws://${SERVER_IP}:8188'], iceServers: [{ urls: 'stun:${SERVER_IP}:3479' }] };\n`;
      const srv = await startStaticServer(ctx, { 'settings.js': settings });
      const browser = await browserFor(ctx, kind);

      const fromSettings = await browser.open(srv.pageUrl);
      let d = await watching(fromSettings, 'watching with settings.js', { pred: (x) => x.pcIceServers });
      assert.equal(d.server, `ws://${SERVER_IP}:8188`, 'settings.js servers used');
      assert.deepEqual(iceUrls(d.pcIceServers), [`stun:${SERVER_IP}:3479`], 'settings.js iceServers in pc.getConfiguration()');

      // ?ice= wins over settings.js: a URL list and a JSON array, given twice.
      const turn = [{ urls: [`turn:${SERVER_IP}:3478?transport=udp`], username: 'cam', credential: 'secret' }];
      const q = `?ice=${encodeURIComponent(`stun:${SERVER_IP}:3478,stun:${SERVER_IP}:3480`)}&ice=${encodeURIComponent(JSON.stringify(turn))}`;
      const given = await browser.open(srv.pageUrl + q);
      d = await watching(given, 'watching with ?ice=', { pred: (x) => x.pcIceServers });
      console.log(`# ${kind}: ?ice= -> pc.getConfiguration().iceServers ${JSON.stringify(d.pcIceServers)}`);
      assert.deepEqual(iceUrls(d.pcIceServers),
        [`stun:${SERVER_IP}:3478`, `stun:${SERVER_IP}:3480`, `turn:${SERVER_IP}:3478?transport=udp`]);
      const turnEntry = d.pcIceServers[2];
      assert.equal(turnEntry.username, 'cam');
      assert.equal(turnEntry.credential, 'secret');
      assert.deepEqual(d.configErrors, []);

      // Bad values: a readable reason on the page, no ICE servers, and it plays.
      const bad = [
        ['[{"urls":', /\?ice= ignored: not valid JSON/],
        ['http://10.10.0.1/', /\?ice= ignored: not a stun:\/stuns:\/turn:\/turns: URL: http:\/\/10\.10\.0\.1\//],
        [`turn:${SERVER_IP}:3478`, /\?ice= ignored: turn:10\.10\.0\.1:3478 needs "username" and "credential"/],
      ];
      for (const [value, re] of bad) {
        const tab = await browser.open(`${srv.pageUrl}?ice=${encodeURIComponent(value)}`);
        d = await watching(tab, `watching despite ?ice=${value}`, { pred: (x) => x.pcIceServers });
        console.log(`# ${kind}: ?ice=${value} -> "${d.message}"`);
        assert.match(d.message, re, 'the reason is shown on the page');
        assert.deepEqual(d.pcIceServers, [], 'no ICE servers used');
        assert.deepEqual(tab.errors, [], `no uncaught errors for ?ice=${value}`);
        await waitDecoded(tab, { frames: 5, timeout: 20000 });
        await tab.close();
      }
    });

  // Two ways a tab closes: as a user closes it (beforeunload, pagehide,
  // unload run) and without beforeunload (only pagehide and unload run:
  // Playwright's default page.close(), a browser discarding a tab).  janus.js
  // listens to beforeunload only; the page leaves on pagehide.
  const ways = [
    { served: 'python3 -m http.server', query: '' },                                  // HTTP transport, port 8088
    { served: 'python3 -m http.server', query: `?server=ws://${SERVER_IP}:8188` },     // WebSocket transport
    { served: 'tools/serve.mjs', query: '' },                                         // HTTP through the proxy
  ];
  for (const { served, query } of ways) {
    test(`${kind}: a closed tab (page served by ${served}${query}) is gone from info.viewers within 1 s, with or without beforeunload`,
      { timeout: 120000 }, async (t) => {
        const ctx = await setupJanus(t);
        const srv = served === 'tools/serve.mjs' ? await startServer({ janusUrl: ctx.janus.url }) : await startStaticServer(ctx);
        if (srv.stop) ctx.cleanups.push(() => srv.stop());
        const browser = await browserFor(ctx, kind);
        const keep = await browser.open(srv.pageUrl + query); // another tab stays: the browser lives on
        await watching(keep, 'the tab that stays');
        let viewers = 1;
        for (const beforeunload of [true, false]) {
          const tab = await browser.open(srv.pageUrl + query);
          const d = await watching(tab, 'the tab to close');
          await waitDecoded(tab, { frames: 5, timeout: 20000 });
          await waitFor(async () => (await ctx.info()).viewers === viewers + 1, { timeout: 5000, what: `${viewers + 1} viewers` });
          const t0 = performance.now();
          await tab.close({ beforeunload });
          let last = null;
          await waitFor(async () => (last = await ctx.info()).viewers === viewers, {
            timeout: 1000, interval: 10,
            what: () => `the closed tab gone within 1 s (beforeunload ${beforeunload}; viewers ${last?.viewers})\n${ctx.logExcerpt()}`,
          });
          console.log(`# ${kind}, ${served} via ${d.server}, closed ${beforeunload ? 'with' : 'without'} beforeunload: ` +
            `info.viewers ${viewers} after ${(performance.now() - t0).toFixed(0)} ms`);
        }
        // The tab that stayed still plays.
        const before = await inboundVideo(keep);
        await waitDecoded(keep, { frames: 10, from: before.framesDecoded, timeout: 5000 });
        const t1 = performance.now();
        await keep.close();
        console.log(`# ${kind}, ${served}${query}: last tab closed -> 0 viewers after ${(await msToNoViewers(ctx, t1, 1000, 'after the last tab')).toFixed(0)} ms`);
      });
  }

  test(`${kind}: the control pad drives the device program with the page's viewer id`, { timeout: 120000 }, async (t) => {
    let dir = makeTmpDir('ctl');
    if (dir.length + 14 > 107) dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-'));
    const sock = path.join(dir, 'control.sock');
    const ctx = await setupJanus(t, { set: { control_socket: JSON.stringify(sock) } });
    const dev = new Device(sock, { name: 'device' });
    ctx.cleanups.push(() => dev.close());
    await dev.connect();
    const srv = await startStaticServer(ctx);
    const browser = await browserFor(ctx, kind);
    const tab = await browser.open(srv.pageUrl);
    const d = await watching(tab, 'watching with the control panel and channel open',
      { pred: (x) => x.dataChannel === 'open' && x.panelShown });
    await tab.click('#control-take');
    await watching(tab, '"you" control', { pred: (x) => x.isController && x.controllerText === 'you' });
    await dev.waitLine((m) => m?.event === 'controller' && m.controller === d.viewerId, { what: 'the controller event' });

    const from = dev.lines.length;
    const drives = () => dev.lines.slice(from).filter((l) => l.msg && 'from' in l.msg);
    await tab.keyDown('ArrowUp');
    await waitFor(() => drives().filter((l) => l.msg.data?.y === 1).length >= 3,
      { timeout: 3000, what: () => `3 forward drives while ArrowUp is held (got ${drives().map((l) => l.text)})` });
    await tab.keyUp('ArrowUp');
    await waitFor(() => drives().some((l) => l.msg.data?.x === 0 && l.msg.data?.y === 0),
      { timeout: 3000, what: 'the zero drive after releasing ArrowUp' });
    const got = drives();
    for (const l of got) {
      assert.equal(l.msg.from, d.viewerId, `tagged with the page's viewer id: ${l.text}`);
      assert.equal(l.msg.data.type, 'drive', l.text);
    }
    const sent = (await demo(tab)).sentDrive;
    console.log(`# ${kind}: ${got.length} drive lines at the device for ${sent} sent by the page`);
    assert.equal(got.length, sent, 'every drive the page sent arrived, nothing else');

    await tab.click('#control-take'); // now "release control"
    await watching(tab, 'control released', { pred: (x) => x.controller === null && !x.isController });
    await dev.waitLine((m) => m?.event === 'controller' && m.controller === null, { from, what: 'controller null at the device' });
  });

  // Issue 9: two pattern cameras of different sizes and rates, shown side
  // by side from the picker, each on its own handle.  The rear one needs a
  // PIN, entered in its own field.
  test(`${kind}: two cameras side by side (picker, PIN field): each video decodes its own camera's size and stamp, ` +
    'snapshots of the right size, 490 shown, and one camera\'s reconnect leaves the other alone', { timeout: 180000 }, async (t) => {
    const ctx = await setupJanus(t, { raw: TWO_CAMERAS });
    const srv = await startStaticServer(ctx);
    const browser = await browserFor(ctx, kind);
    const tab = await browser.open(srv.pageUrl);
    const d = await watching(tab, 'watching the first camera, picker shown', { pred: (x) => x.pickerShown });
    assert.deepEqual(d.shown, ['front'], 'no ?camera=: the first camera only');
    assert.deepEqual(d.cameras.map((c) => [c.id, c.width, c.height, c.pin]), [['front', 640, 480, false], ['rear', 320, 240, true]]);
    assert.ok(!JSON.stringify(d.cameras).includes(REAR_PIN), 'no secret in `cameras`');

    // "all side by side" in the picker; the rear view stops at its PIN.
    await tab.evaluate(() => {
      const sel = document.getElementById('camera-picker');
      sel.value = '*';
      sel.dispatchEvent(new Event('change'));
    });
    let vs = await waitFor(async () => { const x = await views(tab); return x.rear?.state === 'error' ? x : null; },
      { timeout: 15000, what: 'the rear view refused without a PIN' });
    assert.match(vs.rear.error, /486/);
    assert.ok(vs.rear.pinShown, 'a PIN field for the camera that needs one');
    assert.ok(!vs.front.pinShown, 'no PIN field for the camera that needs none');
    assert.equal(vs.front.state, 'watching', 'the front view is not touched by the rear one\'s refusal');
    await tab.evaluate((pin) => {
      const form = document.querySelector('section[data-camera="rear"] [data-f="pin-form"]');
      form.querySelector('input').value = pin;
      form.requestSubmit();
    }, REAR_PIN);
    vs = await waitFor(async () => { const x = await views(tab); return x.rear?.state === 'watching' && x.front.state === 'watching' ? x : null; },
      { timeout: 25000, what: () => `both views watching (page errors: ${tab.errors.join('; ') || 'none'})` });
    assert.match(await tab.evaluate(() => location.search), /camera=front&camera=rear/, 'the selection is in the URL');

    // Each video its own camera's size (getStats and the <video>), and the
    // stamps read from each picture: two counters at two rates.
    const cams = { front: { w: 640, h: 480, fps: 30 }, rear: { w: 320, h: 240, fps: 15 } };
    const readAt = async (id) => waitFor(async () => {
      const s = await readStamp(tab, `video[data-camera="${id}"]`);
      return s.error ? null : s;
    }, { timeout: 5000, what: `${kind}: a readable stamp in the ${id} <video>` });
    const first = {};
    for (const [id, c] of Object.entries(cams)) {
      await waitDecoded(tab, { camera: id, frames: 5, timeout: 20000 });
      const st = await inboundVideo(tab, id);
      assert.equal(`${st.frameWidth}x${st.frameHeight}`, `${c.w}x${c.h}`, `${id}: getStats frame size`);
      first[id] = await readAt(id);
      assert.equal(`${first[id].width}x${first[id].height}`, `${c.w}x${c.h}`, `${id}: <video> size`);
    }
    vs = await views(tab);
    assert.equal(`${vs.rear.videoWidth}x${vs.rear.videoHeight}`, '320x240');
    await sleep(2000);
    const rates = {};
    for (const id of Object.keys(cams)) {
      const s = await readAt(id);
      rates[id] = ((s.counter - first[id].counter) * 1000) / (s.now - first[id].now);
    }
    console.log(`# ${kind}: stamps front ${first.front.counter} at ${rates.front.toFixed(1)}/s, rear ${first.rear.counter} at ${rates.rear.toFixed(1)}/s`);
    assert.ok(rates.front > 20 && rates.front < 40, `front stamp rate ${rates.front.toFixed(1)}/s (30 fps)`);
    assert.ok(rates.rear > 9 && rates.rear < 21, `rear stamp rate ${rates.rear.toFixed(1)}/s (15 fps)`);
    assert.notEqual(first.front.counter, first.rear.counter, 'two counters, not one picture twice');

    // Control is one per page, through the first shown camera's viewer.
    await tab.click('#control-take');
    const c1 = await watching(tab, 'control taken through the front view', { pred: (x) => x.isController });
    assert.equal(c1.controller, vs.front.viewerId, 'the controller is the front view\'s viewer');
    assert.match(await tab.evaluate(() => document.getElementById('control-via').textContent), /front/);

    // The rear viewer kicked: that view reconnects (a new viewer id), the
    // front one keeps its viewer, its PeerConnection, its frames and control.
    vs = await views(tab);
    const frontBefore = await inboundVideo(tab, 'front');
    const r = await ctx.adminHandle.message({ request: 'kick', admin_key: ADMIN_KEY, camera: 'rear', id: vs.rear.viewerId });
    assert.equal(r.data?.camera, 'ok', `kick: ${JSON.stringify(r.data)}`);
    const frontStates = new Set();
    const after = await waitFor(async () => {
      const x = await views(tab);
      frontStates.add(x.front.state);
      return x.rear.state === 'watching' && x.rear.reconnects > vs.rear.reconnects && x.rear.viewerId !== vs.rear.viewerId ? x : null;
    }, { timeout: 20000, interval: 100, what: 'the rear view back with a new viewer' });
    await waitDecoded(tab, { camera: 'rear', frames: 5, timeout: 20000 });
    console.log(`# ${kind}: rear viewer ${vs.rear.viewerId} kicked -> back as ${after.rear.viewerId}; front viewer ${after.front.viewerId} states seen ${[...frontStates]}`);
    assert.deepEqual([...frontStates], ['watching'], 'the front view never left watching');
    assert.equal(after.front.viewerId, vs.front.viewerId, 'the front view is the same viewer');
    assert.equal(after.front.reconnects, vs.front.reconnects, 'the front view did not reconnect');
    assert.equal((await demo(tab)).isController, true, 'control kept');
    await waitDecoded(tab, { camera: 'front', frames: 15, from: frontBefore.framesDecoded, timeout: 5000 });

    // Snapshot buttons: a JPEG of each camera's size, shown in the page.
    for (const [id, c] of Object.entries(cams)) {
      const before = Date.now();
      await tab.click(`section[data-camera="${id}"] [data-f="snapshot"]`);
      let last = null;
      const shot = await waitFor(async () => {
        last = await tab.evaluate((cam) => {
          const el = document.querySelector(`section[data-camera="${cam}"]`);
          const img = el.querySelector('[data-f="snapshot-img"]');
          return {
            snap: window.cameraDemo.view(cam).snapshot, complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
            shown: !el.querySelector('[data-f="snapshot-box"]').hidden,
            info: el.querySelector('[data-f="snapshot-info"]').textContent,
            download: el.querySelector('[data-f="snapshot-download"]').download,
          };
        }, id);
        return last.snap && !last.snap.error && last.complete && last.w ? last : null;
      }, { timeout: 10000, what: () => `${id}: the snapshot shown (last: ${JSON.stringify(last)})` });
      console.log(`# ${kind}: ${id} snapshot: "${shot.info}", ${shot.download}`);
      assert.equal(`${shot.w}x${shot.h}`, `${c.w}x${c.h}`, `${id}: the snapshot's decoded size`);
      assert.equal(`${shot.snap.width}x${shot.snap.height}`, `${c.w}x${c.h}`);
      assert.ok(shot.shown);
      assert.match(shot.download, new RegExp(`^${id}-.*\\.jpg$`));
      assert.ok(shot.snap.captured > before - 3000 && shot.snap.captured <= Date.now() + 50, `${id}: captured ${before - shot.snap.captured} ms before the click`);
      // The picture itself: the pattern's stamp read from the decoded JPEG,
      // its time the snapshot's `captured` (mod 2^32).
      const stamp = await readStamp(tab, `section[data-camera="${id}"] [data-f="snapshot-img"]`);
      assert.ok(!stamp.error, `${id}: a stamp in the snapshot: ${JSON.stringify(stamp)}`);
      const skew = stamp.timeMs - (shot.snap.captured % 2 ** 32);
      console.log(`# ${kind}: ${id} snapshot stamp counter ${stamp.counter}, stamp time - captured ${skew} ms`);
      assert.ok(Math.abs(skew) <= 1000, `${id}: stamp time ${stamp.timeMs} vs captured ${shot.snap.captured}`);
    }
    // Faster than snapshot_rate (2/s per handle): the 490 shows in the page.
    const err = await waitFor(async () => {
      await tab.click('section[data-camera="front"] [data-f="snapshot"]');
      await sleep(20);
      return (await views(tab)).front.snapshotError.match(/490/);
    }, { timeout: 10000, interval: 0, what: 'a 490 shown for the front camera' });
    assert.ok(err);

    assert.deepEqual(tab.errors, [], 'no uncaught errors');
  });

  // A killed browser sends nothing at all (no unload, no DTLS close): only
  // the plugin's viewer liveness (`liveness_ms`) notices; without it the
  // viewer stays until Janus's session timeout (60 s here).
  test(`${kind}: a browser killed with SIGKILL is dropped within liveness_ms + 1.5 s`,
    { timeout: 120000 }, async (t) => {
      const LIVENESS_MS = 2000;
      const ctx = {};
      try {
        await setupJanus(t, { set: { liveness_ms: LIVENESS_MS } }, ctx);
      } catch (e) {
        const log = ctx.janus ? ctx.janus.grep(/liveness|camera/i, 10) : '';
        throw new Error(`the plugin did not load with liveness_ms = ${LIVENESS_MS} (viewer liveness not in this build?): ` +
          `${e.message}\n${log}`);
      }
      const srv = await startStaticServer(ctx);
      const browser = await browserFor(ctx, kind);
      const tab = await browser.open(srv.pageUrl);
      await watching(tab, 'watching');
      await waitDecoded(tab, { frames: 5, timeout: 20000 });
      assert.equal((await ctx.info()).viewers, 1);
      const t0 = performance.now();
      browser.kill();
      const ms = await msToNoViewers(ctx, t0, LIVENESS_MS + 1500, `of SIGKILL to ${kind}`);
      console.log(`# ${kind}: SIGKILL -> info.viewers 0 after ${ms.toFixed(0)} ms (liveness_ms ${LIVENESS_MS})`);
    });
}

test('tools/serve.mjs --settings FILE serves FILE as /settings.js; without one, /settings.js is a plain 404', { timeout: 30000 }, async (t) => {
  const dir = makeTmpDir('serve-settings');
  const file = path.join(dir, 'robot-settings.js');
  const text = `window.cameraSettings = { iceServers: [{ urls: 'stun:${SERVER_IP}:3478' }] };\n`;
  fs.writeFileSync(file, text);
  const run = async (args, port) => {
    const proc = spawn(process.execPath, [path.join(repoRoot, 'tools', 'serve.mjs'), '--listen', SERVER_IP, '--port', String(port), ...args],
      { stdio: 'ignore' });
    t.after(() => proc.kill('SIGTERM'));
    const url = `http://${SERVER_IP}:${port}/settings.js`;
    return waitFor(async () => {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
    }, { timeout: 10000, interval: 100, what: `serve.mjs answering ${url}` });
  };
  const withFile = await run(['--settings', file], 8002);
  assert.equal(withFile.status, 200);
  assert.match(withFile.type, /^text\/javascript/);
  assert.equal(withFile.body, text);
  const without = await run(['--root', dir], 8003); // a root with no settings.js in it
  assert.equal(without.status, 404, 'no settings.js: the page gets a 404 and uses its defaults');
});
