// SPDX-License-Identifier: GPL-3.0-or-later
//
// The HTTPS demo (issue 13, README "HTTPS"): `tools/demo --tls` as a user
// runs it (no install, no build), inside the test namespace.  It makes a
// self-signed certificate, serves the page over https and turns on Janus's
// HTTPS and WSS transports.  Chromium trusts that one certificate for this
// test only (--ignore-certificate-errors-spki-list with its SPKI hash: any
// other certificate error still fails), and the page is checked over each
// way it can reach Janus: the page server's /janus proxy on the https
// origin, Janus's own wss:// and https:// transports.  What is asserted is
// what the browser reports (isSecureContext, the URL janus.js uses, the
// decoded stamp) and what the device program on the control socket receives
// from the arrow keys and from a gamepad.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser, waitDecoded, waitStampAdvancing } from './lib/browser.mjs';
import { Device } from './lib/device.mjs';
import { sanitizerEnv, scanSanitizerLogs } from './lib/janus.mjs';
import { inTestNamespace, repoRoot, SERVER_IP, SERVER_IFACE, waitFor, makeTmpDir } from './lib/util.mjs';

const PAGE_PORT = 8020;
const HTTP_PORT = 8108;
const WS_PORT = 8208;
const HTTPS_PORT = 8109;
const WSS_PORT = 8209;

// A headless Chromium has no gamepad: this stands in for one behind the
// real navigator.getGamepads (which is kept, and is what the page calls
// while no fake pad is plugged in).  window.__pad.native says whether the
// browser itself offers the API on this page.
const FAKE_GAMEPAD = () => {
  const native = typeof navigator.getGamepads === 'function' ? navigator.getGamepads.bind(navigator) : null;
  window.__pad = { native: !!native, pad: null, polls: 0 };
  Object.defineProperty(Navigator.prototype, 'getGamepads', {
    configurable: true,
    value() {
      window.__pad.polls++;
      return window.__pad.pad ? [window.__pad.pad] : (native ? native() : []);
    },
  });
};

const dirOf = (d) => (d.x === 0 && d.y === 0 ? 'zero' : d.y > 0 ? 'up' : d.y < 0 ? 'down' : d.x > 0 ? 'right' : 'left');

// Base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's
// --ignore-certificate-errors-spki-list takes.
function spkiHash(pem) {
  const der = new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

// GET with node's default trust store: a self-signed certificate is refused.
const strictGet = (url) => new Promise((resolve) => {
  https.get(url, (r) => { r.resume(); resolve(`HTTP ${r.statusCode}`); }).on('error', (e) => resolve(e.code || e.message));
});

// tools/demo with `args` (plus the fixed ports, the test interface and the
// sanitizer runtime when CAM_SANITIZE=1), until its "ready at" line.
const PORT_ARGS = ['--listen', SERVER_IP, '--port', String(PAGE_PORT), '--janus-port', String(HTTP_PORT),
  '--ws-port', String(WS_PORT), '--https-port', String(HTTPS_PORT), '--wss-port', String(WSS_PORT),
  '--interface', SERVER_IFACE];
async function startDemo(t, workdir, args) {
  const { LD_PRELOAD, ...sanEnv } = sanitizerEnv(workdir);
  const child = spawn(path.join(repoRoot, 'tools/demo'), ['--no-install', '--no-build', ...PORT_ARGS,
    '--workdir', workdir, ...args, ...(LD_PRELOAD ? ['--asan'] : [])],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...sanEnv } });
  const d = { out: '' };
  child.stdout.on('data', (x) => { d.out += x; });
  child.stderr.on('data', (x) => { d.out += x; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  d.url = await waitFor(() => (d.out.match(/ready at (https:\/\/\S+)/) || [])[1],
    { timeout: 40000, what: () => `the demo's "ready at" line (output so far:\n${d.out})` });
  if (process.env.CAM_IT_MARKER) fs.appendFileSync(process.env.CAM_IT_MARKER, 'tools/demo --tls libjanus_camera\n');
  d.fingerprint = (d.out.match(/certificate SHA-256 fingerprint (\S+)/) || [])[1];
  d.stop = async () => {
    child.kill('SIGTERM');
    const r = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve({ code: 'timeout' }), 15000))]);
    assert.notEqual(r.code, 'timeout', `tools/demo did not stop on SIGTERM:\n${d.out}`);
  };
  return d;
}

function socketPath() {
  let dir = makeTmpDir('tlsctl');
  if (dir.length + 14 > 107) dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsctl-'));
  return path.join(dir, 'control.sock');
}

test('tools/demo --tls: a self-signed certificate, the page over https in a secure context, Janus over https and wss, video and keyboard/gamepad control',
  { timeout: 180000 }, async (t) => {
    assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
    const workdir = makeTmpDir('tls');
    const tlsDir = path.join(workdir, 'tls');
    const sock = socketPath();
    const args = ['--tls', '--tls-dir', tlsDir, '--set', `control_socket=${JSON.stringify(sock)}`];
    let browser = null;
    let device = null;
    t.after(async () => {
      if (device) device.close();
      if (browser) await browser.close();
    });

    const demo = await startDemo(t, workdir, args);
    const { url, out } = demo;
    assert.equal(url, `https://${SERVER_IP}:${PAGE_PORT}/`);
    assert.match(out, /made a self-signed certificate/);

    // The certificate: made in --tls-dir, naming the listen address, its
    // fingerprint printed as a phone's certificate viewer shows it.
    const certFile = path.join(tlsDir, 'cert.pem');
    const pem = fs.readFileSync(certFile);
    const cert = new crypto.X509Certificate(pem);
    assert.ok(cert.checkIP(SERVER_IP), `the certificate names ${SERVER_IP}: ${cert.subjectAltName}`);
    assert.ok(cert.checkHost('localhost'), `the certificate names localhost: ${cert.subjectAltName}`);
    assert.equal(cert.ca, false, 'a server certificate, not a CA');
    const fp = demo.fingerprint;
    assert.equal(fp, cert.fingerprint256, 'the printed fingerprint');
    assert.equal((fs.statSync(path.join(tlsDir, 'key.pem')).mode & 0o077), 0, 'the key is private to its owner');
    console.log(`# certificate for ${cert.subjectAltName}, SHA-256 ${fp}`);

    // It is self-signed: nothing trusts it by default, on any of the three
    // TLS ports.
    for (const u of [url, `https://${SERVER_IP}:${HTTPS_PORT}/janus/info`, `https://${SERVER_IP}:${WSS_PORT}/`]) {
      assert.match(await strictGet(u), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/, `${u} with the default trust store`);
    }

    // Nor does a Chromium without the flag: the trust below is the flag's.
    const untrusting = await launchBrowser();
    const refused = await untrusting.newPage(url).then(() => 'loaded', (e) => e.message);
    await untrusting.close();
    assert.match(refused, /ERR_CERT_AUTHORITY_INVALID/, 'Chromium without the SPKI flag');

    device = await new Device(sock, { name: 'device' }).connect();
    const spki = spkiHash(pem);
    browser = await launchBrowser({ args: [`--ignore-certificate-errors-spki-list=${spki}`] });
    await browser.context.addInitScript(FAKE_GAMEPAD);

    const demoState = (page) => page.evaluate(() => {
      const d = window.cameraDemo;
      return d ? {
        state: d.state, server: d.server, tried: d.tried, dataChannel: d.dataChannel, viewerId: d.viewerId,
        isController: d.isController, sentDrive: d.sentDrive, secure: window.isSecureContext,
        pad: window.__pad, panelShown: !document.getElementById('control-panel').hidden,
      } : null;
    });
    const openPage = async (query, expectServer) => {
      const page = await browser.newPage();
      page.consoleLog = [];
      page.on('console', (m) => page.consoleLog.length < 300 && page.consoleLog.push(`${m.type()}: ${m.text()}`));
      await page.goto(url + query, { timeout: 15000, waitUntil: 'load' });
      let last = null;
      await waitFor(async () => {
        last = await demoState(page);
        return last && last.state === 'watching' && last.dataChannel === 'open' && last.panelShown;
      }, { timeout: 20000, what: () => `${url}${query} watching (last: ${JSON.stringify(last)})\n${page.consoleLog.slice(-20).join('\n')}` });
      assert.equal(last.secure, true, `isSecureContext on ${url}${query}`);
      assert.equal(last.server, expectServer, `the Janus server the page uses (tried before: ${JSON.stringify(last.tried)})`);
      const stats = await waitDecoded(page, { frames: 30, timeout: 20000 });
      assert.equal(stats.frameWidth, 640);
      assert.equal(stats.frameHeight, 480);
      await waitStampAdvancing(page, { what: url + query });
      console.log(`# ${url}${query}: watching via ${last.server}, ${stats.framesDecoded} frames decoded, secure context`);
      return { page, state: last };
    };

    // Drives the device gets from this viewer after line `from`.
    const drivesSince = (from, viewerId) => device.lines.slice(from).filter((l) => l.msg && l.msg.from === viewerId && l.msg.data?.type === 'drive');
    const takeControl = async (page) => {
      await page.click('#control-take');
      await waitFor(async () => (await demoState(page)).isController, { timeout: 5000, what: 'the page holds control' });
    };

    // 1. The default: /janus on the page's own https origin (the proxy).
    const p1 = await openPage('', `https://${SERVER_IP}:${PAGE_PORT}/janus`);
    assert.equal(p1.state.pad.native, true, 'navigator.getGamepads exists on the https page (the Gamepad API is for secure contexts)');
    await takeControl(p1.page);
    const names = { ArrowUp: 'up', ArrowRight: 'right', ArrowDown: 'down', ArrowLeft: 'left' };
    let from = device.lines.length;
    for (const k of Object.keys(names)) {
      const n0 = drivesSince(from, p1.state.viewerId).length;
      await p1.page.keyboard.down(k);
      await waitFor(() => drivesSince(from, p1.state.viewerId).slice(n0).filter((l) => dirOf(l.msg.data) === names[k]).length >= 3,
        { timeout: 3000, what: `3 '${names[k]}' drives at the device while ${k} is held` });
      await p1.page.keyboard.up(k);
      await waitFor(() => drivesSince(from, p1.state.viewerId).slice(n0).some((l) => dirOf(l.msg.data) === 'zero'),
        { timeout: 3000, what: `the zero drive after releasing ${k}` });
    }
    const keyDrives = drivesSince(from, p1.state.viewerId);
    const seq = keyDrives.map((l) => dirOf(l.msg.data)).filter((d, i, a) => i === 0 || d !== a[i - 1]);
    assert.deepEqual(seq, Object.values(names).flatMap((n) => [n, 'zero']), 'the arrow keys\' directions, in order');
    assert.equal(keyDrives.length, (await demoState(p1.page)).sentDrive, 'every drive the page sent reached the device');

    // A gamepad (the stand-in above): stick up, then the d-pad right, then
    // unplugged.  The page's own polling turns it into drives.
    from = device.lines.length;
    const polls0 = (await demoState(p1.page)).pad.polls;
    const pad = (axes, pressed = []) => p1.page.evaluate(([ax, pr]) => {
      window.__pad.pad = ax === null ? null : {
        id: 'test pad', index: 0, connected: true, mapping: 'standard', timestamp: performance.now(), axes: ax,
        buttons: Array.from({ length: 17 }, (_, i) => ({ pressed: pr.includes(i), touched: pr.includes(i), value: pr.includes(i) ? 1 : 0 })),
      };
      window.dispatchEvent(new Event(ax === null ? 'gamepaddisconnected' : 'gamepadconnected'));
    }, [axes, pressed]);
    const padDrives = () => drivesSince(from, p1.state.viewerId).map((l) => dirOf(l.msg.data));
    await pad([0, -1, 0, 0]);
    await waitFor(() => padDrives().filter((d) => d === 'up').length >= 3, { timeout: 3000, what: () => `3 'up' drives from the stick (got ${padDrives()})` });
    await pad([0, 0, 0, 0], [15]);
    await waitFor(() => padDrives().includes('right'), { timeout: 3000, what: () => `a 'right' drive from the d-pad (got ${padDrives()})` });
    await pad(null);
    await waitFor(() => padDrives().at(-1) === 'zero', { timeout: 3000, what: () => `a zero drive after unplugging (got ${padDrives()})` });
    const padSeq = padDrives().filter((d, i, a) => i === 0 || d !== a[i - 1]);
    assert.deepEqual(padSeq, ['up', 'right', 'zero'], 'the gamepad\'s directions, in order');
    assert.ok((await demoState(p1.page)).pad.polls > polls0, 'the page polled navigator.getGamepads');
    console.log(`# keyboard: ${keyDrives.length} drives at the device; gamepad: ${padDrives().length} drives (${padSeq.join(', ')})`);
    await p1.page.close();

    // 2. and 3. Janus's own TLS transports, as for an existing Janus:
    // ?server=wss://... and ?server=https://.../janus.  Keyboard control
    // over the wss one too.
    const p2 = await openPage(`?server=wss://${SERVER_IP}:${WSS_PORT}`, `wss://${SERVER_IP}:${WSS_PORT}`);
    await takeControl(p2.page);
    from = device.lines.length;
    await p2.page.keyboard.down('ArrowUp');
    await waitFor(() => drivesSince(from, p2.state.viewerId).filter((l) => dirOf(l.msg.data) === 'up').length >= 3,
      { timeout: 3000, what: '3 up drives over wss' });
    await p2.page.keyboard.up('ArrowUp');
    await waitFor(() => drivesSince(from, p2.state.viewerId).some((l) => dirOf(l.msg.data) === 'zero'),
      { timeout: 3000, what: 'the zero drive over wss' });
    await p2.page.close();
    const p3 = await openPage(`?server=https://${SERVER_IP}:${HTTPS_PORT}/janus`, `https://${SERVER_IP}:${HTTPS_PORT}/janus`);
    await p3.page.close();

    // For contrast, a plain-http page of the same host is no secure context.
    const plain = await browser.newPage();
    await plain.goto(`http://${SERVER_IP}:${HTTP_PORT}/janus/info`, { timeout: 15000 });
    const insecure = await plain.evaluate(() => ({ secure: window.isSecureContext, gamepads: window.__pad?.native }));
    assert.equal(insecure.secure, false, 'an http page on the LAN address is no secure context');
    console.log(`# http://${SERVER_IP}:${HTTP_PORT}/: isSecureContext false, navigator.getGamepads ${insecure.gamepads ? 'present' : 'absent'}`);
    await browser.close();
    browser = null;
    device.close();
    device = null;
    await demo.stop();

    // A second run reuses the certificate: same fingerprint, no new file.
    const mtime = fs.statSync(certFile).mtimeMs;
    const again = await startDemo(t, workdir, args);
    assert.match(again.out, /reusing the certificate/);
    assert.equal(again.fingerprint, fp, 'the same certificate on the second run');
    assert.equal(fs.statSync(certFile).mtimeMs, mtime);
    await again.stop();
    const left = await fetch(`http://${SERVER_IP}:${HTTP_PORT}/janus/info`).then(() => true, () => false);
    assert.equal(left, false, 'Janus still answers after the demo stopped');
    const { problems } = scanSanitizerLogs(workdir);
    assert.deepEqual(problems, [], 'sanitizer reports from the demo\'s Janus');
  });

test('tools/demo --cert/--key: the given certificate is served by the page server and both Janus TLS transports',
  { timeout: 90000 }, async (t) => {
    assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
    const workdir = makeTmpDir('tlsown');
    // "Your own" certificate: a key and certificate made here, not by the demo.
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = path.join(workdir, 'own.key');
    const certFile = path.join(workdir, 'own.pem');
    fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const made = spawn('openssl', ['req', '-x509', '-key', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=own test certificate',
      '-addext', `subjectAltName=IP:${SERVER_IP}`], { stdio: 'inherit' });
    assert.equal(await new Promise((resolve) => made.on('exit', resolve)), 0, 'openssl made the test certificate');
    const own = new crypto.X509Certificate(fs.readFileSync(certFile));

    const demo = await startDemo(t, workdir, ['--cert', certFile, '--key', keyFile, '--tls-dir', path.join(workdir, 'unused')]);
    assert.equal(demo.fingerprint, own.fingerprint256);
    assert.equal(fs.existsSync(path.join(workdir, 'unused')), false, 'no certificate made with --cert/--key');
    // Each TLS port presents exactly that certificate.
    const presented = (port) => new Promise((resolve, reject) => {
      const c = tls.connect({ host: SERVER_IP, port, rejectUnauthorized: false }, () => {
        resolve(c.getPeerX509Certificate().fingerprint256);
        c.destroy();
      });
      c.on('error', reject);
    });
    for (const port of [PAGE_PORT, HTTPS_PORT, WSS_PORT]) {
      assert.equal(await presented(port), own.fingerprint256, `the certificate on port ${port}`);
    }
    // And the page server and Janus answer behind it, trusting only it.
    for (const u of [`https://${SERVER_IP}:${PAGE_PORT}/janus/info`, `https://${SERVER_IP}:${HTTPS_PORT}/janus/info`]) {
      const info = await new Promise((resolve, reject) => {
        https.get(u, { ca: fs.readFileSync(certFile) }, (r) => {
          let body = '';
          r.on('data', (d) => { body += d; });
          r.on('end', () => resolve(JSON.parse(body)));
        }).on('error', reject);
      });
      assert.ok(info.plugins['janus.plugin.camera'], `${u}: Janus with the camera plugin`);
    }
    await demo.stop();
    const { problems } = scanSanitizerLogs(workdir);
    assert.deepEqual(problems, [], 'sanitizer reports from the demo\'s Janus');
  });
