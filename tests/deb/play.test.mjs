// SPDX-License-Identifier: GPL-3.0-or-later
//
// The installed Debian package, played: the stock `janus` from Debian's
// package with the configuration in /etc/janus (Debian's janus.jcfg and
// transports, plus the packaged janus.plugin.camera.jcfg), the plugin from
// Janus's plugins folder, and the demo page from /usr/share/janus-camera/html
// (janus.js and adapter.js through the package's links to libjs-janus-gateway
// and libjs-webrtc-adapter), in headless Chromium.  Nothing of the tree is
// used but the test helpers.  tests/deb/run builds and installs the package
// first and runs this inside the test network namespace (netns-run).
//
// Only the command line says where ICE gathers (-E tst0): /etc is not edited.
// Two ways to serve the page: any static web server (python3 -m http.server;
// the page finds Janus on port 8088 by itself) and the packaged serve.mjs
// (one origin, /janus proxied).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, waitDecoded, readStamp } from '../integration/lib/browser.mjs';
import { Janus } from '../integration/lib/janus.mjs';
import { inTestNamespace, makeTmpDir, sleep, SERVER_IP, SERVER_IFACE, tailFile, waitFor, withTimeout } from '../integration/lib/util.mjs';

const multiarch = execFileSync('dpkg-architecture', ['-qDEB_HOST_MULTIARCH']).toString().trim();
const PLUGIN_SO = `/usr/lib/${multiarch}/janus/plugins/libjanus_camera.so`;
const CONF = '/etc/janus/janus.plugin.camera.jcfg';
const HTML = '/usr/share/janus-camera/html';
const SERVE = '/usr/share/janus-camera/tools/serve.mjs';

let janus = null;
let browser = null;
const children = [];

// A child process with its output in a log file; killed at the end.
function start(name, argv, dir) {
  const logFile = path.join(dir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `# ${argv.join(' ')}\n`);
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], cwd: dir });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const c = { name, proc, logFile, exited };
  children.push(c);
  return c;
}

async function stopChild(c) {
  if (c.proc.exitCode === null && c.proc.signalCode === null) {
    c.proc.kill('SIGTERM');
    if (!(await withTimeout(c.exited, 5000, `${c.name} exit`).catch(() => null))) c.proc.kill('SIGKILL');
  }
}

async function get(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}

// The page at `url` plays the camera: frames decoded at 640x480 (the
// packaged configuration: the test pattern) and the stamp in the picture
// advancing.  Returns the page's own view of where Janus is.
async function plays(url) {
  const page = await browser.newPage(url);
  try {
    const stats = await waitDecoded(page, { frames: 30, timeout: 25000 });
    assert.equal(stats.frameWidth, 640);
    assert.equal(stats.frameHeight, 480);
    const valid = async () => {
      const s = await readStamp(page);
      return s && !s.error ? s : null;
    };
    const a = await waitFor(valid, { timeout: 5000, what: 'a readable stamp on the packaged page' });
    const b = await waitFor(async () => {
      const s = await valid();
      return s && s.counter >= a.counter + 10 ? s : null;
    }, { timeout: 5000, what: 'the stamp counter to advance on the packaged page' });
    const demo = await page.evaluate(() => ({ state: window.cameraDemo.state, server: window.cameraDemo.server, tried: window.cameraDemo.tried }));
    assert.equal(demo.state, 'watching');
    assert.deepEqual(page.errors || [], [], 'uncaught errors on the page');
    console.log(`${url}: ${stats.framesDecoded} frames decoded at ${stats.frameWidth}x${stats.frameHeight}, ` +
      `stamp ${a.counter} -> ${b.counter}, Janus at ${demo.server}` +
      (demo.tried.length ? ` (tried first: ${demo.tried.join('; ')})` : ''));
    return demo;
  } finally {
    await page.close().catch(() => {});
  }
}

before(async () => {
  assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/deb/run');
  for (const f of [PLUGIN_SO, CONF, `${HTML}/camera.html`, SERVE]) assert.ok(fs.existsSync(f), `${f} missing: is janus-camera installed?`);
  const dir = makeTmpDir('deb-janus');
  // The stock binary and configuration; the log to stdout without colours.
  const argv = ['/usr/bin/janus', '-F', '/etc/janus', '-C', '/etc/janus/janus.jcfg', '-E', SERVER_IFACE, '-o'];
  const c = start('janus', argv, dir);
  janus = new Janus({ dir, proc: c.proc, url: `http://${SERVER_IP}:8088/janus`, logFile: c.logFile, plugins: [PLUGIN_SO], sanitize: false });
  children.pop(); // stopped by janus.stopAndCheck()
  let lastErr = '';
  const deadline = Date.now() + 30000;
  for (;;) {
    if (!janus.running) throw new Error(`the stock janus exited during start (${JSON.stringify(janus.exit)})\n${janus.tail(60)}`);
    try {
      const r = await fetch(`${janus.url}/info`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        janus.info = await r.json();
        break;
      }
      lastErr = `HTTP ${r.status}`;
    } catch (e) {
      lastErr = e.message;
    }
    if (Date.now() > deadline) throw new Error(`the stock janus did not answer on 8088 (${lastErr})\n${janus.tail(60)}`);
    await sleep(200);
  }
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  for (const c of children) await stopChild(c);
  if (janus) await janus.stopAndCheck({ timeout: 15000 });
});

test('the stock janus with /etc/janus loads the packaged plugin from its plugins folder', () => {
  const p = janus.info.plugins?.['janus.plugin.camera'];
  assert.ok(p, `janus.plugin.camera not in /info's plugins: ${Object.keys(janus.info.plugins || {}).join(', ')}\n${janus.grep(/camera|plugin/i)}`);
  assert.match(janus.log(), new RegExp(`Loading plugin 'libjanus_camera\\.so'`));
  console.log(`janus ${janus.info.version_string}: ${p.name} ${p.version_string}; plugins: ${Object.keys(janus.info.plugins).length}, ` +
    `transports: ${Object.keys(janus.info.transports || {}).join(', ')}`);
});

test('the packaged page, served by a plain static server from /usr/share/janus-camera/html, plays', async () => {
  const dir = makeTmpDir('deb-static');
  const s = start('http.server', ['python3', '-m', 'http.server', '--bind', SERVER_IP, '--directory', HTML, '8000'], dir);
  const base = `http://${SERVER_IP}:8000`;
  await waitFor(async () => (await get(`${base}/camera.html`)).status === 200,
    { timeout: 10000, what: () => `python3 -m http.server to serve camera.html\n${tailFile(s.logFile)}` });
  // The links to the Debian JavaScript packages resolve.
  for (const f of ['janus.js', 'adapter.js']) {
    const r = await get(`${base}/${f}`);
    assert.equal(r.status, 200, `${f} through the package's link`);
    assert.equal(r.body, fs.readFileSync(fs.realpathSync(`${HTML}/${f}`), 'utf8'));
  }
  // No /janus on this origin: the page finds Janus's own HTTP transport.
  const demo = await plays(`${base}/camera.html`);
  assert.match(demo.server, new RegExp(`^(http://${SERVER_IP.replace(/\./g, '\\.')}:8088/janus|ws://${SERVER_IP.replace(/\./g, '\\.')}:8188)`));
  await stopChild(s);
});

test('the packaged page through the packaged serve.mjs (its default root, /janus proxied) plays', async () => {
  const dir = makeTmpDir('deb-serve');
  const s = start('serve', [process.execPath, SERVE, '--listen', SERVER_IP, '--port', '8001', '--janus', `http://${SERVER_IP}:8088`], dir);
  const base = `http://${SERVER_IP}:8001`;
  await waitFor(async () => (await get(`${base}/camera.html`)).status === 200,
    { timeout: 10000, what: () => `serve.mjs to serve camera.html\n${tailFile(s.logFile)}` });
  assert.equal((await get(`${base}/camera.html`)).body, fs.readFileSync(`${HTML}/camera.html`, 'utf8'), 'serve.mjs serves the packaged page');
  const demo = await plays(`${base}/camera.html`);
  assert.ok(demo.server === '/janus' || demo.server === `${base}/janus`, `the page used ${demo.server}, not serve.mjs's /janus`);
  await stopChild(s);
});
