// SPDX-License-Identifier: GPL-3.0-or-later
//
// Reading a recording back: a small WebM (Matroska/EBML) demuxer, enough for
// what janus-pp-rec writes (and any muxer's plain VP8 WebM): the EBML header's
// DocType, Info's TimecodeScale and Duration, Tracks (number, type, codec,
// Video's PixelWidth/PixelHeight), and every Cluster's Timecode with its
// SimpleBlocks and BlockGroups (no lacing, Xiph, fixed or EBML lacing).
// Masters of unknown size (live muxers) end at the first element that cannot
// be their child.  Then decodeWebm() gives the VP8 frames to the project's
// libvpx decoder (decoder.mjs: tests/tools/vp8dec, which also reads each
// picture's stamp), and mjrToWebm() runs Debian's janus-pp-rec (janus-tools)
// on a Janus .mjr recording.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Decoded, Vp8Decoder, stampDelayMs } from './decoder.mjs';
import { withTimeout } from './util.mjs';

export const JANUS_PP_REC = process.env.CAM_JANUS_PP_REC || '/usr/bin/janus-pp-rec';

const ID = {
  EBML: 0x1a45dfa3, DocType: 0x4282,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74, Info: 0x1549a966, TimecodeScale: 0x2ad7b1, Duration: 0x4489,
  Tracks: 0x1654ae6b, TrackEntry: 0xae, TrackNumber: 0xd7, TrackType: 0x83, CodecID: 0x86,
  DefaultDuration: 0x23e383, Video: 0xe0, PixelWidth: 0xb0, PixelHeight: 0xba,
  Cluster: 0x1f43b675, Timecode: 0xe7, SimpleBlock: 0xa3, BlockGroup: 0xa0, Block: 0xa1,
  ReferenceBlock: 0xfb, BlockDuration: 0x9b,
  Cues: 0x1c53bb6b, Tags: 0x1254c367, Chapters: 0x1043a770, Attachments: 0x1941a469,
  Void: 0xec, CRC32: 0xbf,
};

// Which masters may hold which children: an element of unknown size ends at
// the first element that is not one of its children.
const CHILDREN = {
  [ID.Segment]: new Set([ID.SeekHead, ID.Info, ID.Tracks, ID.Cluster, ID.Cues, ID.Tags, ID.Chapters,
    ID.Attachments, ID.Void, ID.CRC32]),
  [ID.Cluster]: new Set([ID.Timecode, ID.SimpleBlock, ID.BlockGroup, ID.Void, ID.CRC32,
    0xa7 /* Position */, 0xab /* PrevSize */]),
};

export class WebmError extends Error {}

// A variable-length integer at buf[pos]: {value, len}; for sizes the marker
// bit is dropped (keepMarker false) and all ones means unknown (value null).
function vint(buf, pos, keepMarker) {
  if (pos >= buf.length) throw new WebmError(`vint past the end at ${pos}`);
  const first = buf[pos];
  let len = 1;
  while (len <= 8 && !(first & (0x80 >> (len - 1)))) len++;
  if (len > 8 || (keepMarker && len > 4)) throw new WebmError(`bad vint 0x${first.toString(16)} at ${pos}`);
  if (pos + len > buf.length) throw new WebmError(`vint past the end at ${pos}`);
  let value = keepMarker ? first : first & (0xff >> len);
  let allOnes = value === (0xff >> len);
  for (let i = 1; i < len; i++) {
    value = value * 256 + buf[pos + i];
    if (buf[pos + i] !== 0xff) allOnes = false;
  }
  return { value: !keepMarker && allOnes ? null : value, len };
}

function uint(buf) {
  let v = 0;
  for (const b of buf) v = v * 256 + b;
  return v;
}

function float(buf) {
  if (buf.length === 4) return buf.readFloatBE(0);
  if (buf.length === 8) return buf.readDoubleBE(0);
  return 0;
}

// Walks the elements in buf[start, end): calls visit(id, data start, data
// end or null when unknown, header start) and skips each element's data
// unless visit returns a position to go on from (for masters of unknown size).
function walk(buf, start, end, visit) {
  let pos = start;
  while (pos < end) {
    // Trailing zero bytes (some muxers pad): nothing more to read.
    if (buf[pos] === 0) break;
    const head = pos;
    const id = vint(buf, pos, true);
    pos += id.len;
    const size = vint(buf, pos, false);
    pos += size.len;
    const dataEnd = size.value === null ? null : pos + size.value;
    if (dataEnd !== null && dataEnd > buf.length) {
      // A file cut short (a recording still being written): read what is whole.
      visit(id.value, pos, buf.length, head, true);
      return buf.length;
    }
    const next = visit(id.value, pos, dataEnd, head, false);
    pos = dataEnd !== null ? dataEnd : next;
    if (pos === undefined || pos === null) throw new WebmError(`element 0x${id.value.toString(16)} of unknown size not read`);
  }
  return pos;
}

// The children of a master of unknown size run until an element that is not
// one of them: returns where it ends.
function unknownEnd(buf, start, end, id) {
  const allowed = CHILDREN[id];
  let pos = start;
  while (pos < end) {
    if (buf[pos] === 0) return pos;
    const child = vint(buf, pos, true);
    if (!allowed || !allowed.has(child.value)) return pos;
    const size = vint(buf, pos + child.len, false);
    const dataStart = pos + child.len + size.len;
    if (size.value === null) {
      pos = unknownEnd(buf, dataStart, end, child.value);
    } else {
      pos = Math.min(dataStart + size.value, end);
    }
  }
  return pos;
}

// The frames of one (Simple)Block: track, relative timecode, flags, and the
// laced frames' data.
function parseBlock(buf) {
  const track = vint(buf, 0, false);
  let pos = track.len;
  const rel = buf.readInt16BE(pos);
  const flags = buf[pos + 2];
  pos += 3;
  const lacing = (flags >> 1) & 3;
  const frames = [];
  if (lacing === 0) {
    frames.push(buf.subarray(pos));
  } else {
    const count = buf[pos++] + 1;
    const sizes = [];
    if (lacing === 1) { // Xiph
      for (let i = 0; i < count - 1; i++) {
        let s = 0;
        let b;
        do { b = buf[pos++]; s += b; } while (b === 255);
        sizes.push(s);
      }
    } else if (lacing === 3) { // EBML: first size, then signed differences
      let v = vint(buf, pos, false);
      pos += v.len;
      sizes.push(v.value);
      for (let i = 1; i < count - 1; i++) {
        v = vint(buf, pos, false);
        const bias = 2 ** (7 * v.len - 1) - 1;
        sizes.push(sizes[i - 1] + v.value - bias);
        pos += v.len;
      }
    }
    if (lacing === 2) { // fixed
      const each = (buf.length - pos) / count;
      if (!Number.isInteger(each)) throw new WebmError('fixed lacing of uneven size');
      for (let i = 0; i < count; i++) sizes.push(each);
    } else {
      sizes.push(buf.length - pos - sizes.reduce((a, b) => a + b, 0));
    }
    for (const s of sizes) {
      if (s < 0 || pos + s > buf.length) throw new WebmError('laced frame past the block');
      frames.push(buf.subarray(pos, pos + s));
      pos += s;
    }
  }
  return { track: track.value, rel, flags, frames };
}

// Parses a whole WebM file (a path or a Buffer).  Returns
// {docType, timecodeScale (ns per tick), durationMs (from Info, or null),
//  tracks: [{number, type, codec, width, height, defaultDurationNs}],
//  blocks: [{track, timeMs, key, data}] in file order, truncated (the file
//  ended inside an element)}.  key: the container's flag (SimpleBlock's
//  keyframe bit; a BlockGroup without a ReferenceBlock).
export function parseWebm(input) {
  const buf = Buffer.isBuffer(input) ? input : fs.readFileSync(input);
  const out = { docType: null, timecodeScale: 1000000, durationMs: null, tracks: [], blocks: [],
    truncated: false };
  let durationTicks = null;
  let clusterTime = null;
  let sawEbml = false;
  let sawSegment = false;

  const addBlock = (data, key) => {
    const b = parseBlock(data);
    if (clusterTime === null) throw new WebmError('a block before its cluster\'s Timecode');
    const ticks = clusterTime + b.rel;
    for (const f of b.frames) {
      out.blocks.push({ track: b.track, timeMs: (ticks * out.timecodeScale) / 1e6, key, data: f });
    }
  };

  const track = (s, e) => {
    const t = { number: null, type: null, codec: null, width: null, height: null, defaultDurationNs: null };
    walk(buf, s, e, (id, ds, de) => {
      const d = buf.subarray(ds, de);
      if (id === ID.TrackNumber) t.number = uint(d);
      else if (id === ID.TrackType) t.type = uint(d);
      else if (id === ID.CodecID) t.codec = d.toString('latin1').replace(/\0+$/, '');
      else if (id === ID.DefaultDuration) t.defaultDurationNs = uint(d);
      else if (id === ID.Video) {
        walk(buf, ds, de, (vid, vs, ve) => {
          if (vid === ID.PixelWidth) t.width = uint(buf.subarray(vs, ve));
          else if (vid === ID.PixelHeight) t.height = uint(buf.subarray(vs, ve));
        });
      }
    });
    out.tracks.push(t);
  };

  const cluster = (s, e) => walk(buf, s, e, (id, ds, de, head, cut) => {
    if (cut) { out.truncated = true; return; }
    if (id === ID.Timecode) clusterTime = uint(buf.subarray(ds, de));
    else if (id === ID.SimpleBlock) addBlock(buf.subarray(ds, de), (buf[ds + vint(buf, ds, false).len + 2] & 0x80) !== 0);
    else if (id === ID.BlockGroup) {
      let block = null;
      let referenced = false;
      walk(buf, ds, de, (gid, gs, ge) => {
        if (gid === ID.Block) block = buf.subarray(gs, ge);
        else if (gid === ID.ReferenceBlock) referenced = true;
      });
      if (block) addBlock(block, !referenced);
    }
  });

  const segment = (s, e) => walk(buf, s, e, (id, ds, de, head, cut) => {
    if (cut) out.truncated = true;
    if (id === ID.Info && !cut) {
      walk(buf, ds, de, (iid, is, ie) => {
        if (iid === ID.TimecodeScale) out.timecodeScale = uint(buf.subarray(is, ie));
        else if (iid === ID.Duration) durationTicks = float(buf.subarray(is, ie));
      });
    } else if (id === ID.Tracks && !cut) {
      walk(buf, ds, de, (tid, ts, te) => { if (tid === ID.TrackEntry) track(ts, te); });
    } else if (id === ID.Cluster) {
      const end = de === null ? unknownEnd(buf, ds, e, id) : de;
      clusterTime = null;
      cluster(ds, end);
      return end;
    }
    return undefined;
  });

  walk(buf, 0, buf.length, (id, ds, de, head, cut) => {
    if (id === ID.EBML) {
      sawEbml = true;
      walk(buf, ds, de, (hid, hs, he) => {
        if (hid === ID.DocType) out.docType = buf.subarray(hs, he).toString('latin1').replace(/\0+$/, '');
      });
    } else if (id === ID.Segment) {
      sawSegment = true;
      const end = de === null ? buf.length : de;
      if (cut) out.truncated = true;
      segment(ds, end);
      return end;
    }
    return undefined;
  });
  if (!sawEbml || !sawSegment) throw new WebmError('not an EBML file with a Segment');
  if (durationTicks !== null) out.durationMs = (durationTicks * out.timecodeScale) / 1e6;
  return out;
}

// The first VP8 video track and its frames: {width, height, durationMs,
// frames: [{timeMs, key, vp8Key, data}], ...parseWebm's fields}.  vp8Key:
// the VP8 bitstream's own key-frame bit (P = 0 in the frame tag).
export function readVp8Webm(input) {
  const w = parseWebm(input);
  const t = w.tracks.find((x) => x.codec === 'V_VP8');
  if (!t) throw new WebmError(`no V_VP8 track (tracks: ${JSON.stringify(w.tracks)})`);
  const frames = w.blocks.filter((b) => b.track === t.number).map((b) => ({
    timeMs: b.timeMs, key: b.key, vp8Key: b.data.length > 0 && (b.data[0] & 1) === 0, data: b.data,
  }));
  return { ...w, track: t, width: t.width, height: t.height, frames };
}

// What the decoder said about a recording: decoder.mjs's Decoded, plus each
// picture's stamp capture time (CLOCK_REALTIME ms mod 2^32, null when the
// stamp did not read) in file order, so that a test can check that the
// pictures' capture times go forward also across a camera restart, where the
// frame counter starts over.
export class RecordingDecoded extends Decoded {
  constructor() {
    super();
    this.stampTimes = [];
  }

  add(m, at) {
    super.add(m, at);
    if (m.decoded) this.stampTimes.push(m.stamp ? m.time : null);
  }

  // Steps between consecutive read stamps: {backwards, maxStepMs,
  // steps: [ms...]} (ms between capture times).
  timeSteps() {
    const steps = [];
    let last = null;
    for (const t of this.stampTimes) {
      if (t === null) continue;
      if (last !== null) steps.push(stampDelayMs(t, last));
      last = t;
    }
    return { backwards: steps.filter((d) => d <= 0).length, maxStepMs: steps.length ? Math.max(...steps) : null, steps };
  }
}

// Decodes a WebM file's VP8 frames with libvpx (tests/tools/vp8dec) and
// reads each picture's stamp.  Returns {webm (readVp8Webm), decoded
// (RecordingDecoded: pictures, sizes, errors, corrupt, counter gaps and
// backward steps, stamp times, log)}.  The timestamp given to the decoder is
// the frame's time in 90 kHz ticks, so decoded.log[i].ts / 90 is its time in
// the file (ms).
export async function decodeWebm(input, { name = 'webm' } = {}) {
  const webm = readVp8Webm(input);
  const dec = new Vp8Decoder({ name });
  dec.decoded = new RecordingDecoded();
  for (const f of webm.frames) dec.feed({ ts: Math.round(f.timeMs * 90), data: f.data });
  const exit = await dec.close();
  if (exit.code !== 0) throw new Error(`${name}: vp8dec exited ${JSON.stringify(exit)}: ${dec.stderr.slice(0, 2000)}`);
  const answered = dec.decoded.pictures + dec.decoded.errors;
  if (answered < dec.fedFrames) throw new Error(`${name}: vp8dec answered ${answered} of ${dec.fedFrames} frames`);
  return { webm, decoded: dec.decoded };
}

// Runs `janus-pp-rec <mjr> <webm>` (Debian's janus-tools).  Returns the
// .webm path (next to the .mjr unless `out` is given), with what the tool
// printed in `.log` on the thrown error when it failed or wrote nothing.
export async function mjrToWebm(mjr, { out = mjr.replace(/\.mjr$/, '') + '.webm', timeout = 60000, args = [] } = {}) {
  if (!fs.existsSync(JANUS_PP_REC)) throw new Error(`no ${JANUS_PP_REC}: install janus-tools (tools/setup --tests)`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const proc = spawn(JANUS_PP_REC, [...args, mjr, out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b) => { if (log.length < 20000) log += b; };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const r = await withTimeout(exited, timeout, `janus-pp-rec ${mjr}`).catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  if (r.code !== 0 || !fs.existsSync(out) || fs.statSync(out).size === 0) {
    const e = new Error(`janus-pp-rec ${mjr} -> ${out} failed (${JSON.stringify(r)}):\n${log.slice(-3000)}`);
    e.log = log;
    throw e;
  }
  return out;
}
