// SPDX-License-Identifier: GPL-3.0-or-later
//
// Headless Debian Chromium driven by playwright-core and Debian's Firefox ESR
// driven by puppeteer-core over WebDriver BiDi (never a downloaded browser),
// one small interface over both (openBrowser), and helpers that read what the page really decoded: getStats
// inbound-rtp of its RTCPeerConnection, and the test pattern's stamp read
// from the <video> pixels by our own decoder (not the page's), so the demo
// page cannot vouch for itself.

import fs from 'node:fs';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { makeTmpDir, waitFor } from './util.mjs';

export const CHROMIUM = process.env.CAM_CHROMIUM || '/usr/bin/chromium';
export const FIREFOX = process.env.CAM_FIREFOX || '/usr/bin/firefox-esr';
// The browsers a test body runs in (openBrowser's `kind`).
export const BROWSERS = ['chromium', 'firefox'];

// Flags from docs/testing.md: no sandbox (root in a namespace), no GPU, no
// QUIC or background traffic (nothing may leave the namespace), autoplay
// without a gesture so the <video> plays headless.
export const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-features=MediaRouter,OptimizationHints,Translate',
  // A hidden/occluded headless page must not throttle its timers or
  // stop painting video: we measure it.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

// Launches Chromium with a fresh profile folder; returns {context, dir, close}.
// `args`: flags beyond FLAGS (e.g. a certificate to trust, tls.test.mjs).
export async function launchBrowser({ headless = true, args = [] } = {}) {
  const dir = makeTmpDir('chromium');
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless,
    args: [...FLAGS, ...args],
    viewport: { width: 800, height: 700 },
    timeout: 30000,
  });
  return {
    context,
    dir,
    async newPage(url) {
      const page = await context.newPage();
      page.on('pageerror', (e) => { page.errors = [...(page.errors || []), e.message]; });
      if (url) await page.goto(url, { timeout: 15000, waitUntil: 'load' });
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Firefox: autoplay without a gesture (the <video> is muted, but headless has
// no user to click), and nothing that would phone home (puppeteer's own
// defaults already turn off updates, telemetry and safe browsing).
const FIREFOX_PREFS = {
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'browser.region.network.url': '',
  'app.normandy.enabled': false,
};

// The pids of `pid` and all its descendants (from /proc), parents first.
function processTree(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) || []) walk(c);
  };
  walk(pid);
  return out;
}

// Our own child process whose command line names `dir` (Playwright does
// not tell a persistent context's browser pid).
function childWith(dir) {
  for (const pid of processTree(process.pid).slice(1)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

// SIGKILL to a browser and every process it started: no unload, no
// goodbye on any connection, as when a machine loses power.
function killTree(pid) {
  if (!pid) throw new Error('no browser process to kill');
  for (const p of processTree(pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// A tab with the same few methods in both browsers.
function tab(kind, page) {
  const errors = [];
  const consoleLog = [];
  page.on('pageerror', (e) => errors.push(e.message || String(e)));
  page.on('console', (m) => consoleLog.length < 500 && consoleLog.push(`${new Date().toISOString()} ${m.type()}: ${m.text()}`));
  return {
    kind,
    page,               // the driver's own page object, for anything else
    errors,             // uncaught exceptions of the page
    consoleLog,         // the page's console (janus.js warnings), for failure messages
    goto: (url) => page.goto(url, { timeout: 15000, waitUntil: 'load' }),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    click: (selector) => page.click(selector),
    keyDown: (key) => page.keyboard.down(key),
    keyUp: (key) => page.keyboard.up(key),
    // Closes the tab as a user does: beforeunload, pagehide, unload run.
    // With {beforeunload: false} the driver closes it without beforeunload
    // (Chromium: CDP Target.closeTarget; Firefox: BiDi browsingContext.close
    // without promptUnload), as browsers do when they discard a tab: only
    // pagehide/unload run.
    close: ({ beforeunload = true } = {}) => page.close({ runBeforeUnload: beforeunload }),
  };
}

// openBrowser('chromium' | 'firefox') -> {kind, open(url) -> tab, kill(), close()}:
// a fresh profile each time; kill() is SIGKILL to the whole browser.
export async function openBrowser(kind) {
  if (kind === 'chromium') {
    const b = await launchBrowser();
    const pid = childWith(b.dir);
    return {
      kind,
      async open(url) {
        const t = tab(kind, await b.context.newPage());
        if (url) await t.goto(url);
        return t;
      },
      kill: () => killTree(pid),
      close: () => b.close(),
    };
  }
  if (kind !== 'firefox') throw new Error(`unknown browser ${kind}`);
  const dir = makeTmpDir('firefox');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: dir,
    extraPrefsFirefox: FIREFOX_PREFS,
    defaultViewport: { width: 800, height: 700 },
    timeout: 30000,
  });
  const pid = browser.process()?.pid;
  return {
    kind,
    async open(url) {
      const t = tab(kind, await browser.newPage());
      if (url) await t.goto(url);
      return t;
    },
    kill: () => killTree(pid),
    async close() {
      await browser.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// inbound-rtp video figures of the page's PeerConnection (window.cameraDemo.pc,
// or with `camera` that camera's view's), or null while there is none.
export async function inboundVideo(page, camera = null) {
  return page.evaluate(async (cam) => {
    const d = window.cameraDemo;
    const pc = d && (cam === null ? d.pc : d.view(cam)?.pc);
    if (!pc) return null;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) {
        return {
          framesDecoded: s.framesDecoded ?? 0,
          framesReceived: s.framesReceived ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
          keyFramesDecoded: s.keyFramesDecoded ?? 0,
          pliCount: s.pliCount ?? 0,
          packetsLost: s.packetsLost ?? 0,
          packetsReceived: s.packetsReceived ?? 0,
          framesPerSecond: s.framesPerSecond ?? 0,
          pcState: pc.connectionState,
        };
      }
    }
    return { framesDecoded: 0, frameWidth: 0, frameHeight: 0, pcState: pc.connectionState };
  }, camera);
}

// Reads the contract's stamp (api.md) from the page's first <video> (or
// the one `selector` names, e.g. video[data-camera="rear"], or an <img>):
// draws the current picture to a canvas and decodes the two block rows.
// Returns {counter, timeMs, width, height, now} or {error}.
export async function readStamp(page, selector = 'video') {
  return page.evaluate((sel) => {
    // A <video>, or an <img> (a snapshot) once it has decoded.
    const video = document.querySelector(sel);
    const w = video ? (video.videoWidth ?? video.naturalWidth) : 0;
    const h = video ? (video.videoHeight ?? video.naturalHeight) : 0;
    if (!w) return { error: 'no video picture' };
    const B = w / 40;
    if (B < 4) return { error: `picture too small (${w}x${h})` };
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = Math.ceil(2 * B);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    // Only the top 2B rows of the source, at 1:1 scale.
    ctx.drawImage(video, 0, 0, w, canvas.height, 0, 0, w, canvas.height);
    const now = Date.now();
    const px = ctx.getImageData(0, 0, w, canvas.height).data;
    // RGB back to limited-range BT.601 luma, the scale the contract's 16/235
    // and threshold 128 are given in.
    const luma = (x, y) => {
      const i = (y * w + x) * 4;
      return 16 + 0.257 * px[i] + 0.504 * px[i + 1] + 0.098 * px[i + 2];
    };
    const row = (r) => {
      const bits = [];
      for (let b = 0; b < 40; b++) {
        // The inner half of the block: codec and scaler smear the edges.
        const x0 = Math.floor(b * B + B / 4);
        const x1 = Math.ceil(b * B + (3 * B) / 4);
        const y0 = Math.floor(r * B + B / 4);
        const y1 = Math.ceil(r * B + (3 * B) / 4);
        let sum = 0;
        let n = 0;
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) { sum += luma(x, y); n++; }
        bits.push(sum / n >= 128 ? 1 : 0);
      }
      let v = 0;
      for (let i = 0; i < 32; i++) v = v * 2 + bits[i];
      let check = 0;
      for (let i = 32; i < 40; i++) check = check * 2 + bits[i];
      const xor = ((v >>> 24) ^ (v >>> 16) ^ (v >>> 8) ^ v) & 0xff;
      return { v, ok: xor === check };
    };
    const c = row(0);
    const t = row(1);
    if (!c.ok || !t.ok) return { error: 'stamp check byte mismatch', counter: c.v, timeMs: t.v, width: w, height: h };
    return { counter: c.v, timeMs: t.v, width: w, height: h, now };
  }, selector);
}

// Waits until the page's getStats (of `camera`'s view, when given) says at
// least `frames` more frames were decoded than `from`; returns the stats.
export async function waitDecoded(page, { frames = 1, from = 0, timeout = 15000, camera = null } = {}) {
  let last = null;
  return waitFor(async () => {
    last = await inboundVideo(page, camera);
    return last && last.framesDecoded >= from + frames ? last : null;
  }, { timeout, interval: 50, what: () => `${frames} decoded frames (last stats: ${JSON.stringify(last)})` });
}

// Waits for a readable stamp on the page's <video>, then for its counter to
// go up (the picture is live, not a still); returns the first stamp.
export async function waitStampAdvancing(page, { timeout = 5000, what = 'the page' } = {}) {
  const valid = async () => {
    const s = await readStamp(page);
    return s && !s.error ? s : null;
  };
  const a = await waitFor(valid, { timeout, what: `a readable stamp on ${what}` });
  await waitFor(async () => {
    const b = await valid();
    return b && b.counter > a.counter;
  }, { timeout, what: `the stamp counter to advance on ${what}` });
  return a;
}
