// SPDX-License-Identifier: GPL-3.0-or-later
//
// Headless Debian Chromium (never a downloaded browser) on the benchmark page
// (bench/html/view.html): time to first frame over repeated joins, and
// glass-to-glass latency read from the stamp of every presented frame.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { FLAGS as TEST_FLAGS, CHROMIUM } from '../../tests/integration/lib/browser.mjs';
import { repoRoot } from './janus.mjs';
import { sleep } from './procs.mjs';

// The test harness's flags, except that WebRtcHideLocalIpsWithMdns is off
// too: the page offers its real host candidates, as on a LAN with camera
// permission.  aiortc cannot resolve .local names, and all three servers
// must see the same client.
const FLAGS = TEST_FLAGS.map((f) => (f.startsWith('--disable-features=') ? `${f},WebRtcHideLocalIpsWithMdns` : f));

const STAMP_JS = path.join(repoRoot, 'html', 'stamp.js');

export async function launch({ tmp }) {
  const dir = fs.mkdtempSync(path.join(tmp || os.tmpdir(), 'chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 800, height: 600 },
    timeout: 30000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPage(browser, url) {
  const page = await browser.context.newPage();
  await page.goto(url, { timeout: 15000, waitUntil: 'load' });
  await page.addScriptTag({ path: STAMP_JS });
  await page.waitForFunction(() => window.bench && (window.bench.ready || window.bench.error), null, { timeout: 15000 });
  const err = await page.evaluate(() => window.bench.error);
  if (err) throw new Error(`page setup: ${err}`);
  return page;
}

async function leave(page) {
  await Promise.race([page.evaluate(() => window.bench.stop()).catch(() => {}), sleep(5000)]);
  await page.close().catch(() => {});
}

// `joins` times: open the page (session + handle), start, wait for the first
// presented frame (or `timeout` ms), leave.  Returns per join
// {ms, marks, error}.
export async function timeToFirstFrame(browser, url, { joins = 20, timeout = 15000, pauseMs = 300 } = {}) {
  const out = [];
  for (let i = 0; i < joins; i++) {
    let page = null;
    const r = { ms: null, marks: null, error: null };
    try {
      page = await openPage(browser, url);
      await page.evaluate(() => window.bench.start());
      await page.waitForFunction(() => window.bench.firstFrameMs !== null || window.bench.error, null, { timeout });
      const b = await page.evaluate(() => ({ ms: window.bench.firstFrameMs, marks: window.bench.marks, error: window.bench.error }));
      Object.assign(r, b);
    } catch (e) {
      r.error = e.message.split('\n')[0];
    }
    out.push(r);
    if (page) await leave(page);
    // The server sees a leave, then a join: not both in the same instant.
    await sleep(pauseMs);
  }
  return out;
}

// One viewer: waits for `frames` stamp readings (bounded by timeout);
// returns {delays, unreadable, presented, distinct, error}.
export async function glassToGlass(browser, url, { frames = 300, timeout = 60000 } = {}) {
  let page = null;
  try {
    page = await openPage(browser, url);
    // Skip the first second: the very first frames of a connection show
    // the join, not the steady state.
    await page.evaluate(() => window.bench.start());
    await page.waitForFunction(() => window.bench.firstFrameMs !== null || window.bench.error, null, { timeout: 15000 });
    await sleep(1000);
    await page.evaluate((n) => { window.bench.wantStamps = n; }, frames);
    await page.waitForFunction(() => window.bench.delays.length >= window.bench.wantStamps || window.bench.error, null,
      { timeout, polling: 250 });
    return await page.evaluate(() => ({
      delays: window.bench.delays,
      unreadable: window.bench.unreadable,
      presented: window.bench.presented,
      distinct: new Set(window.bench.stamps).size,
      error: window.bench.error,
    }));
  } catch (e) {
    let partial = {};
    if (page) partial = await page.evaluate(() => ({ delays: window.bench.delays, unreadable: window.bench.unreadable })).catch(() => ({}));
    return { delays: [], ...partial, error: e.message.split('\n')[0] };
  } finally {
    if (page) await leave(page);
  }
}
