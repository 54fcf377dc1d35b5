// SPDX-License-Identifier: GPL-3.0-or-later
//
// Reader for the test pattern's stamp (api.md, "The test pattern's stamp"):
// two rows of 40 square blocks across the top of the picture, block size
// B = width / 40.  Row 1 is the frame counter, row 2 the capture time in
// ms modulo 2^32; each is 32 bits MSB first plus an 8-bit XOR check.
//
// A plain script (no module syntax) so that a test can inject it into any
// page with addScriptTag / evaluate and get window.readCameraStamp, and so
// that Node can require() it to test the decoder on synthetic pixels.
(function (root) {
  'use strict';

  const BLOCKS = 40;

  // BT.601 limited range, RGB -> Y: the inverse of what the browser's decoder
  // applied, so that black blocks read ~16 and white ones ~235, as the
  // contract states them, and the threshold stays the contract's 128.
  function lumaOf(r, g, b) {
    return 16 + 0.257 * r + 0.504 * g + 0.098 * b;
  }

  // lumaAt(x, y) -> Y for one pixel; returns {counter, timeMs} or null when
  // the picture carries no (readable) stamp.
  function decodeWith(lumaAt, width, height) {
    const B = width / BLOCKS;
    // Blocks under 4 px have no meaningful inner half once scaled/blurred.
    if (!(B >= 4) || height < 2 * B) return null;
    const bits = (row) => {
      const out = [];
      const y0 = Math.floor(row * B + B / 4);
      const y1 = Math.max(y0 + 1, Math.floor(row * B + (3 * B) / 4));
      for (let i = 0; i < BLOCKS; i++) {
        // The inner half only: block edges are smeared by the codec and scaler.
        const x0 = Math.floor(i * B + B / 4);
        const x1 = Math.max(x0 + 1, Math.floor(i * B + (3 * B) / 4));
        let sum = 0;
        let n = 0;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            sum += lumaAt(x, y);
            n++;
          }
        }
        out.push(sum / n >= 128 ? 1 : 0);
      }
      return out;
    };
    const word = (b) => {
      let v = 0;
      for (let i = 0; i < 32; i++) v = v * 2 + b[i];  // no << : stay unsigned
      let check = 0;
      for (let i = 32; i < 40; i++) check = check * 2 + b[i];
      const xor = ((v >>> 24) ^ (v >>> 16) ^ (v >>> 8) ^ v) & 0xff;
      return xor === check ? v : null;
    };
    const counter = word(bits(0));
    if (counter === null) return null;
    const timeMs = word(bits(1));
    if (timeMs === null) return null;
    // An all-black top (a dark real camera picture) passes both checks as
    // zeros; a real stamp never has a capture time of exactly 0.
    if (counter === 0 && timeMs === 0) return null;
    return { counter, timeMs };
  }

  // rgba: ImageData.data (RGBA bytes, row stride = width * 4).
  function decodeRGBA(rgba, width, height) {
    return decodeWith((x, y) => {
      const i = (y * width + x) * 4;
      return lumaOf(rgba[i], rgba[i + 1], rgba[i + 2]);
    }, width, height);
  }

  // luma: one Y byte per pixel (e.g. the Y plane of an I420 frame).
  function decodeLuma(luma, width, height) {
    return decodeWith((x, y) => luma[y * width + x], width, height);
  }

  // Signed difference (now - stamp) in ms with modulo 2^32 arithmetic: the
  // stamp only keeps the low 32 bits of CLOCK_REALTIME in ms.
  function delayMs(timeMs, nowMs = Date.now()) {
    return ((nowMs % 4294967296) - timeMs) | 0;
  }

  // Reads the stamp from what a <video> currently presents, at its native
  // size (no scaling, which would blur the blocks).  Only the top 2B rows
  // are copied.  One canvas per video, reused.
  const canvases = new WeakMap();
  function readCameraStamp(video) {
    const width = video && video.videoWidth;
    const height = video && video.videoHeight;
    if (!width || !height || video.readyState < 2) return null;
    const rows = Math.min(height, Math.ceil((2 * width) / BLOCKS));
    let canvas = canvases.get(video);
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvases.set(video, canvas);
    }
    if (canvas.width !== width || canvas.height !== rows) {
      canvas.width = width;
      canvas.height = rows;
    }
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, width, rows, 0, 0, width, rows);
    const img = ctx.getImageData(0, 0, width, rows);
    return decodeRGBA(img.data, width, rows);
  }

  const api = { decodeRGBA, decodeLuma, delayMs, lumaOf, readCameraStamp };
  if (typeof module === 'object' && module.exports) module.exports = api;
  if (root) {
    root.CameraStamp = api;
    root.readCameraStamp = readCameraStamp;
  }
})(typeof window !== 'undefined' ? window : globalThis);
