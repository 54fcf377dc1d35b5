// SPDX-License-Identifier: GPL-3.0-or-later
//
// Headless Debian Chromium driven by playwright-core (never a downloaded
// browser), with helpers that read what the page really decoded: getStats
// inbound-rtp of its RTCPeerConnection, and the test pattern's stamp read
// from the <video> pixels by our own decoder (not the page's), so the demo
// page cannot vouch for itself.

import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { makeTmpDir, waitFor } from './util.mjs';

export const CHROMIUM = process.env.CAM_CHROMIUM || '/usr/bin/chromium';

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
export async function launchBrowser({ headless = true } = {}) {
  const dir = makeTmpDir('chromium');
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless,
    args: FLAGS,
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

// inbound-rtp video figures of the page's PeerConnection (window.cameraDemo.pc),
// or null while there is none.
export async function inboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.cameraDemo && window.cameraDemo.pc;
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
  });
}

// Reads the contract's stamp (api.md) from the page's first <video>:
// draws the current picture to a canvas and decodes the two block rows.
// Returns {counter, timeMs, width, height, now} or {error}.
export async function readStamp(page, selector = 'video') {
  return page.evaluate((sel) => {
    const video = document.querySelector(sel);
    if (!video || !video.videoWidth) return { error: 'no video picture' };
    const w = video.videoWidth;
    const h = video.videoHeight;
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

// Waits until the page's getStats says at least `frames` more frames were
// decoded than `from`; returns the stats.
export async function waitDecoded(page, { frames = 1, from = 0, timeout = 15000 } = {}) {
  let last = null;
  return waitFor(async () => {
    last = await inboundVideo(page);
    return last && last.framesDecoded >= from + frames ? last : null;
  }, { timeout, interval: 50, what: () => `${frames} decoded frames (last stats: ${JSON.stringify(last)})` });
}
