// SPDX-License-Identifier: GPL-3.0-or-later
//
// Starts the demo's web server (tools/serve.mjs) for a test and waits until
// it serves the page.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, SERVER_IP, makeTmpDir, sleep, tailFile, withTimeout } from './util.mjs';

// args: more serve.mjs options, e.g. ['--camera-config', FILE].
export async function startServer({ janusUrl, ip = SERVER_IP, port = 8000, timeout = 10000, args = [] } = {}) {
  const script = path.join(repoRoot, 'tools', 'serve.mjs');
  if (!fs.existsSync(script)) throw new Error(`no ${script}`);
  const dir = makeTmpDir('serve');
  const logFile = path.join(dir, 'serve.log');
  const fd = fs.openSync(logFile, 'a');
  const janusRoot = new URL(janusUrl).origin;
  const proc = spawn(process.execPath, [script, '--listen', ip, '--port', String(port), '--janus', janusRoot, ...args],
    { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://${ip}:${port}`;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`serve.mjs exited during start\n${tailFile(logFile)}`);
    }
    try {
      const r = await fetch(`${base}/camera.html`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`serve.mjs did not serve /camera.html within ${timeout} ms\n${tailFile(logFile)}`);
    }
    await sleep(100);
  }
  return {
    base,
    pageUrl: `${base}/camera.html`,
    logFile,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const r = await withTimeout(exited, 5000, 'serve.mjs exit').catch(() => null);
        if (!r) proc.kill('SIGKILL');
      }
    },
  };
}
