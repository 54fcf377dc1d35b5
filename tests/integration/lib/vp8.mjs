// SPDX-License-Identifier: GPL-3.0-or-later
//
// Reads the VP8 RTP payload descriptor (RFC 7741 section 4.2) far enough to
// tell where a frame starts and whether it is a key frame, so a werift viewer
// can count what it really received without decoding.

// Returns {start, keyframe, pictureId} for one RTP payload, or null when the
// payload is too short to hold a descriptor.
export function parseVp8(payload) {
  if (!payload || payload.length < 1) return null;
  const b0 = payload[0];
  const x = (b0 & 0x80) !== 0;
  const s = (b0 & 0x10) !== 0;
  const pid = b0 & 0x07;
  let i = 1;
  let pictureId = null;
  if (x) {
    if (payload.length < 2) return null;
    const b1 = payload[1];
    i = 2;
    if (b1 & 0x80) { // I: picture ID, 7 or 15 bits
      if (payload.length <= i) return null;
      if (payload[i] & 0x80) {
        if (payload.length <= i + 1) return null;
        pictureId = ((payload[i] & 0x7f) << 8) | payload[i + 1];
        i += 2;
      } else {
        pictureId = payload[i];
        i += 1;
      }
    }
    if (b1 & 0x40) i += 1; // L: TL0PICIDX
    if (b1 & 0x30) i += 1; // T or K: TID/Y/KEYIDX
  }
  const start = s && pid === 0;
  // The VP8 payload header's P bit (bit 0 of its first byte) is 0 for a key
  // frame; it is only present in the first packet of a partition 0.
  const keyframe = start && payload.length > i && (payload[i] & 0x01) === 0;
  return { start, keyframe, pictureId };
}
