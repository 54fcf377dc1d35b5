// SPDX-License-Identifier: GPL-3.0-or-later
//
// The README's demo command itself: tools/demo (no install, no build: the
// caller built the tree) started inside the test namespace with the address,
// ports and interface options, then a browser on the page it prints.  This is
// the path a user takes, end to end: janus-conf, the private Janus, the page
// server and its /janus proxy, janus.js and the demo page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { launchBrowser, waitDecoded, waitStampAdvancing } from './lib/browser.mjs';
import { sanitizerEnv, scanSanitizerLogs } from './lib/janus.mjs';
import { inTestNamespace, repoRoot, SERVER_IP, SERVER_IFACE, waitFor, makeTmpDir } from './lib/util.mjs';

test('tools/demo: starts Janus and the page server, the page plays the test pattern, SIGTERM stops everything',
  { timeout: 120000 }, async (t) => {
    assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
    const workdir = makeTmpDir('demo');
    // Under CAM_SANITIZE=1 the plugin is built with ASan: the demo's Janus
    // needs the runtime preloaded, as every other Janus of the tests gets it,
    // and its reports are judged the same way afterwards.
    const { LD_PRELOAD, ...sanEnv } = sanitizerEnv(workdir);
    const demo = spawn(path.join(repoRoot, 'tools/demo'), ['--no-install', '--no-build',
      '--listen', SERVER_IP, '--port', '8010', '--janus-port', '8098', '--ws-port', '8198',
      '--interface', SERVER_IFACE, '--workdir', workdir, ...(LD_PRELOAD ? ['--asan'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...sanEnv } });
    let out = '';
    demo.stdout.on('data', (d) => { out += d; });
    demo.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => demo.on('exit', (code, signal) => resolve({ code, signal })));
    let browser = null;
    t.after(async () => {
      if (browser) await browser.close();
      if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
    });

    const url = await waitFor(() => (out.match(/ready at (http:\/\/\S+)/) || [])[1],
      { timeout: 30000, what: () => `the demo's "ready at" line (output so far:\n${out})` });
    assert.equal(url, `http://${SERVER_IP}:8010/`);

    browser = await launchBrowser();
    const page = await browser.newPage(url);
    const stats = await waitDecoded(page, { frames: 30, timeout: 20000 });
    assert.equal(stats.frameWidth, 640);
    assert.equal(stats.frameHeight, 480);
    await waitStampAdvancing(page, { what: 'the demo page' });
    await browser.close();
    browser = null;

    demo.kill('SIGTERM');
    const { code, signal } = await Promise.race([exited,
      new Promise((resolve) => setTimeout(() => resolve({ code: 'timeout' }), 15000))]);
    assert.notEqual(code, 'timeout', `tools/demo did not stop on SIGTERM:\n${out}`);
    assert.ok(code !== null || signal !== null);
    // Nothing of it is left listening.
    const left = await fetch(`http://${SERVER_IP}:8098/janus/info`).then(() => true, () => false);
    assert.equal(left, false, 'Janus still answers after the demo stopped');
    const { problems } = scanSanitizerLogs(workdir);
    assert.deepEqual(problems, [], 'sanitizer reports from the demo\'s Janus');
  });
