// SPDX-License-Identifier: GPL-3.0-or-later
//
// Small helpers shared by the integration harness.  Every wait here is
// bounded: a test that hangs tells us nothing, a test that times out with a
// reason does.

import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// The addresses the namespace runner (tests/integration/netns-run) gives us.
export const SERVER_IP = '10.10.0.1';
export const CLIENT_IP = '10.10.0.2';
export const SERVER_IFACE = 'tst0';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls pred() until it returns a truthy value or the time is up.  Returns
// that value, or throws with `what` (a string, or a function called at the
// time of failure so it can show the last state) to say what we waited for.
export async function waitFor(pred, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? ` (last error: ${lastErr.message})` : '';
      const w = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${timeout} ms waiting for ${w}${why}`);
    }
    await sleep(interval);
  }
}

// Races a promise against a timer, so no await can hang a test forever.
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// A per-run scratch folder under $CAM_IT_TMP (set by tests/integration/run,
// so that logs survive for a post-mortem) or the system temp folder.
export function makeTmpDir(prefix) {
  const base = process.env.CAM_IT_TMP || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, `${prefix}-`));
}

// The last `lines` lines of a text file, or '' when it does not exist.
export function tailFile(file, lines = 60) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// True when we run inside the namespace that netns-run builds; the tests
// refuse to run elsewhere rather than send traffic to a real network.
export function inTestNamespace() {
  try {
    // Not /sys/class/net: sysfs shows the namespace it was mounted in.
    const ifs = os.networkInterfaces();
    return !!ifs.tst0?.some((a) => a.address === SERVER_IP) && !!ifs.tst1?.some((a) => a.address === CLIENT_IP);
  } catch {
    return false;
  }
}
