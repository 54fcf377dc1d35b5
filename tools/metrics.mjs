// SPDX-License-Identifier: GPL-3.0-or-later
//
// GET /metrics for tools/serve.mjs: the plugin's counters in Prometheus's
// text format (version 0.0.4), read through Janus's HTTP API on one Janus
// session and handle of this server's own (snapshot-client.mjs's Client:
// kept alive, made anew when Janus forgets it; it never watches, so it is
// no viewer).  Dependency-free.
//
// One scrape asks the plugin `cameras`, then `info` for each camera and,
// with the admin key, one `list` (viewers by state, the longest silence,
// which camera the controller watches).  The admin key is read from the
// plugin's own configuration (`admin_key` in the general section of
// janus.plugin.camera.jcfg, --camera-config; read again when the plugin
// refuses it, e.g. after an edit and a Janus restart) or given with
// --admin-key; without one, the `list` metrics are left out.
//
// Answers are cached for --metrics-cache ms (default 1000), and scrapes
// that arrive while one is being made share it, so a fast scraper does not
// hammer Janus.  When Janus does not answer (or the plugin is not loaded),
// 503 with `janus_camera_up 0`.  See README, "Metrics".

import fs from 'node:fs';
import { Client } from './snapshot-client.mjs';

export const DEFAULT_CAMERA_CONFIG = '/etc/janus/janus.plugin.camera.jcfg';
const SCRAPE_TIMEOUT_MS = 5000;
const SOURCE_STATES = ['idle', 'running', 'error'];
const DROP_REASONS = ['silent', 'unanswered', 'kicked'];
const VIEWER_STATES = ['preparing', 'started'];
// control_stats fields that count (the rest: `clients`, a gauge).
const CONTROL_COUNTERS = {
  delivered: 'control messages accepted and passed to the device program',
  lines_sent: 'lines queued for device programs (each program counts)',
  lines_dropped: 'lines dropped for device programs whose queue was full (each program counts)',
  telemetry: 'valid telemetry lines read from device programs',
  telemetry_invalid: 'lines from device programs refused as invalid',
  telemetry_dropped: 'telemetry lines not sent to a viewer over its telemetry_rate (per viewer)',
  telemetry_no_viewer: 'telemetry lines whose `to` reached nobody',
  rejected: 'control messages refused (any code)',
  stops: 'safety stops sent to the device program',
  timeouts: 'controllers that lost control to control_timeout_ms',
};

// ---------------------------------------------------------------------------
// janus.plugin.camera.jcfg: Janus's libconfig syntax (settings `name = value`
// or `name: value`, optional `;` or `,`; groups {...}, arrays [...], lists
// (...); strings with escapes, adjacent ones joined; #, // and /* */
// comments).  Returns the top level as an object; throws on a syntax error.
export function parseJcfg(text) {
  let i = 0;
  const fail = (what) => {
    const line = text.slice(0, i).split('\n').length;
    throw new Error(`line ${line}: ${what}`);
  };
  const skip = () => {
    for (;;) {
      const m = /^(?:\s+|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/)/.exec(text.slice(i, i + 4096));
      if (!m || !m[0].length) return;
      i += m[0].length;
    }
  };
  const string = () => {
    let out = '';
    while (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        const c = text[i++];
        if (c === '"') break;
        if (c !== '\\') {
          out += c;
          continue;
        }
        const e = text[i++];
        if (e === 'n') out += '\n';
        else if (e === 't') out += '\t';
        else if (e === 'r') out += '\r';
        else if (e === 'f') out += '\f';
        else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i, i + 2))) {
          out += String.fromCharCode(parseInt(text.slice(i, i + 2), 16));
          i += 2;
        } else if (e === '"' || e === '\\') out += e;
        else fail(`bad escape \\${e}`);
      }
      skip();
    }
    return out;
  };
  const value = () => {
    skip();
    const c = text[i];
    if (c === '"') return string();
    if (c === '{') {
      i++;
      const g = settings('}');
      i++;
      return g;
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const list = [];
      skip();
      while (text[i] !== close) {
        list.push(value());
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected , or ${close}`);
        skip();
      }
      i++;
      return list;
    }
    const m = /^(?:true|false|[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)L{0,2})/i.exec(text.slice(i, i + 64));
    if (!m) fail('expected a value');
    i += m[0].length;
    const t = m[0].toLowerCase();
    if (t === 'true' || t === 'false') return t === 'true';
    return Number(t.replace(/l+$/, ''));
  };
  const settings = (end) => {
    const out = {};
    for (;;) {
      skip();
      if (end ? text[i] === end : i >= text.length) return out;
      if (i >= text.length) fail(`missing ${end}`);
      const m = /^[A-Za-z*][-A-Za-z0-9_*]*/.exec(text.slice(i, i + 256));
      if (!m) fail('expected a setting name');
      i += m[0].length;
      skip();
      if (text[i] !== '=' && text[i] !== ':') fail(`expected = or : after ${m[0]}`);
      i++;
      if (Object.hasOwn(out, m[0])) fail(`duplicate setting ${m[0]}`);
      out[m[0]] = value();
      skip();
      if (text[i] === ';' || text[i] === ',') i++;
    }
  };
  return settings(null);
}

// The admin key from the plugin's configuration file: a string, or null
// when the file sets none.  Throws when the file cannot be read or parsed.
export function readAdminKey(file) {
  const cfg = parseJcfg(fs.readFileSync(file, 'utf8'));
  const key = cfg.general?.admin_key;
  return typeof key === 'string' && key !== '' ? key : null;
}

// ---------------------------------------------------------------------------
// The text format.

const escLabel = (v) => String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escHelp = (v) => String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const num = (v) => {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v !== 'number' || Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
};

// Families in the order they are declared; samples of each together.
class Exposition {
  constructor() {
    this.families = new Map();
  }

  family(name, type, help) {
    let f = this.families.get(name);
    if (!f) {
      f = { name, type, help, samples: [] };
      this.families.set(name, f);
    }
    return f;
  }

  // Adds a sample (skipped when value is not a number or boolean: a field
  // an older plugin does not send).
  add(name, type, help, labels, value) {
    const f = this.family(name, type, help);
    if (typeof value !== 'number' && typeof value !== 'boolean') return;
    f.samples.push({ labels, value });
  }

  text() {
    const out = [];
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${escHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.samples) {
        const l = Object.entries(s.labels || {}).map(([k, v]) => `${k}="${escLabel(v)}"`).join(',');
        out.push(`${f.name}${l ? `{${l}}` : ''} ${num(s.value)}`);
      }
    }
    return out.join('\n') + '\n';
  }
}

// The exposition of one scrape: {up, error?, cameras: [{summary, info}],
// list: viewers|null, adminAccess, durationMs}.
export function render(s) {
  const x = new Exposition();
  const P = 'janus_camera_';
  x.add(`${P}up`, 'gauge', 'whether Janus and the camera plugin answered this scrape (1) or not (0)', {}, s.up ? 1 : 0);
  x.add(`${P}scrape_duration_seconds`, 'gauge', 'time the plugin took to answer this scrape\'s requests', {},
    Math.round(s.durationMs) / 1000);
  if (!s.up) return x.text() + (s.error ? `# janus_camera: ${escHelp(s.error)}\n` : '');

  x.add(`${P}admin_access`, 'gauge', 'whether `list` answered with the admin key (1); 0 without a key or when the plugin refused it', {}, s.adminAccess ? 1 : 0);
  x.add(`${P}cameras`, 'gauge', 'cameras configured in the plugin', {}, s.cameras.length);
  const first = s.cameras[0]?.info || {};
  if (typeof first.control === 'string') {
    x.add(`${P}control_policy`, 'gauge', 'the control policy in force (always 1; the policy is the label)', { policy: first.control }, 1);
  }
  // Who holds control: one holder per plugin; the camera it watches when
  // `list` tells (admin key).
  const holder = first.controller ?? null;
  const cf = x.family(`${P}controller`, 'gauge', 'whether a viewer holds control (1, its id in the `controller` label and the camera it watches in `camera`) or nobody (0)');
  if (holder !== null && holder !== undefined) {
    const labels = { controller: String(holder) };
    const v = s.list?.find((e) => e.id === holder);
    if (v?.camera) labels.camera = v.camera;
    cf.samples.push({ labels, value: 1 });
  } else if ('controller' in first) {
    cf.samples.push({ labels: {}, value: 0 });
  }

  const per = (name, type, help, pick) => {
    for (const c of s.cameras) x.add(`${P}${name}`, type, help, { camera: c.id }, pick(c.info || {}, c));
  };
  for (const c of s.cameras) {
    const labels = { camera: c.id, source: c.info?.source?.kind ?? '', format: c.info?.source?.native_format ?? '' };
    if (typeof c.info?.description === 'string') labels.description = c.info.description;
    if (typeof c.info?.source?.device === 'string') labels.device = c.info.source.device;
    x.add(`${P}info`, 'gauge', 'a configured camera (always 1; what it is in the labels)', labels, 1);
  }
  per('viewers', 'gauge', 'viewers of the camera: handles that sent `watch` and have not left (info.viewers)', (i) => i.viewers);
  per('max_viewers', 'gauge', 'the camera\'s viewer limit (0: none)', (i) => i.max_viewers);
  if (s.list) {
    for (const c of s.cameras) {
      for (const state of VIEWER_STATES) {
        x.add(`${P}viewers_by_state`, 'gauge', 'viewers of the camera by state: offer out (preparing) or started (from `list`)',
          { camera: c.id, state }, s.list.filter((v) => v.camera === c.id && v.state === state).length);
      }
    }
    for (const c of s.cameras) {
      const silent = s.list.filter((v) => v.camera === c.id && v.state === 'started').map((v) => v.silent_ms);
      x.add(`${P}viewer_silence_max_seconds`, 'gauge', 'the longest time since anything arrived from one of the camera\'s started viewers (0 with none; dropped at liveness_ms)',
        { camera: c.id }, silent.length ? Math.max(...silent) / 1000 : 0);
    }
  }
  for (const c of s.cameras) {
    const state = c.info?.source?.state;
    for (const st of SOURCE_STATES) {
      x.add(`${P}source_state`, 'gauge', 'the camera\'s source state: 1 for the state it is in (idle: on demand and nobody watching)',
        { camera: c.id, state: st }, state === st ? 1 : 0);
    }
  }
  per('source_width_pixels', 'gauge', 'picture width the source delivers', (i) => i.source?.width);
  per('source_height_pixels', 'gauge', 'picture height the source delivers', (i) => i.source?.height);
  per('source_fps', 'gauge', 'frame rate the source is set to', (i) => i.source?.fps);
  per('encoder_frames_total', 'counter', 'frames the camera\'s encoder produced', (i) => i.encoder?.frames);
  per('encoder_keyframes_total', 'counter', 'key frames the encoder produced (periodic and forced)', (i) => i.encoder?.keyframes);
  per('encoder_forced_keyframes_total', 'counter', 'key frames forced (viewers joining, PLI, FIR, `keyframe`, recording start)', (i) => i.encoder?.forced_keyframes);
  per('encoder_bytes_total', 'counter', 'bytes the encoder produced: rate() of it times 8 is the bitrate sent to each viewer', (i) => i.encoder?.bytes);
  per('encoder_target_bitrate_bits_per_second', 'gauge', 'the encoder\'s target bitrate (CBR)', (i) => i.encoder?.bitrate);
  per('encoder_keyframe_interval_seconds', 'gauge', 'seconds between periodic key frames (0: only forced ones)', (i) => i.encoder?.keyframe_interval);
  for (const c of s.cameras) {
    const d = c.info?.drops;
    if (!d) continue;
    for (const reason of DROP_REASONS) {
      x.add(`${P}drops_total`, 'counter', 'viewers removed by the plugin: silent (nothing arrived for liveness_ms), unanswered (no `start` within prepare_timeout_ms), kicked (admin `kick`)',
        { camera: c.id, reason }, d[reason]);
    }
  }
  per('recording_active', 'gauge', 'whether the camera is being recorded', (i) => (i.recording ? !!i.recording.active : undefined));
  per('recording_bytes', 'gauge', 'RTP bytes of the current (or last) recording', (i) => i.recording?.bytes);
  per('recording_frames', 'gauge', 'frames of the current (or last) recording', (i) => i.recording?.frames);
  per('recording_error', 'gauge', 'whether the last recording stopped on an error (info.recording.error)', (i) => (i.recording ? i.recording.error != null : undefined));

  const cs = first.control_stats;
  if (cs) {
    for (const [k, help] of Object.entries(CONTROL_COUNTERS)) x.add(`${P}control_${k}_total`, 'counter', help, {}, cs[k]);
    x.add(`${P}control_clients`, 'gauge', 'device programs connected to the control socket', {}, cs.clients);
  }
  return x.text();
}

// ---------------------------------------------------------------------------

export class Metrics {
  // janusUrl: Janus's HTTP API (http://host:port/janus); adminKey, or
  // configFile to read it from; cacheMs: how long a scrape is reused.
  constructor({ janusUrl, adminKey = null, configFile = null, cacheMs = 1000, log }) {
    this.base = janusUrl.replace(/\/+$/, '');
    this.log = log;
    this.said = new Map(); // what -> the last problem logged, so a scraper does not flood the log
    this.cacheMs = cacheMs;
    this.fixedKey = adminKey;
    this.configFile = configFile;
    this.adminKey = adminKey ?? this.#readKey();
    this.client = new Client(this.base, '(metrics)', log, SCRAPE_TIMEOUT_MS);
    this.cached = null;    // {at, status, body}
    this.inFlight = null;
  }

  // Logs a problem once, until it changes or goes (msg null).
  #note(what, msg) {
    if (this.said.get(what) === msg) return;
    this.said.set(what, msg);
    if (msg) this.log?.(`metrics: ${msg}`);
  }

  #readKey() {
    if (!this.configFile) return null;
    try {
      const key = readAdminKey(this.configFile);
      this.#note('key', key ? null : `${this.configFile} sets no admin_key: no viewer lists in /metrics`);
      return key;
    } catch (e) {
      this.#note('key', `cannot read admin_key from ${this.configFile}: ${e.message}`);
      return null;
    }
  }

  async #list() {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.adminKey) return null;
      const r = await this.client.request({ request: 'list', admin_key: this.adminKey });
      if (!r.error_code && Array.isArray(r.viewers)) {
        this.#note('list', null);
        return r.viewers;
      }
      if (r.error_code !== 486 || this.fixedKey || attempt) {
        this.#note('list', `list: error ${r.error_code}: ${r.error || ''}`);
        return null;
      }
      // The plugin refused the key: maybe the file changed since.
      const again = this.#readKey();
      if (again === this.adminKey) {
        this.#note('list', `list: the plugin refuses the admin_key of ${this.configFile}`);
        return null;
      }
      this.adminKey = again;
    }
    return null;
  }

  // One scrape's data (never throws).
  async collect() {
    const t0 = performance.now();
    try {
      const dir = await this.client.request({ request: 'cameras' });
      if (dir.error_code || !Array.isArray(dir.cameras)) {
        throw new Error(`cameras: ${dir.error_code ? `error ${dir.error_code}: ${dir.error || ''}` : 'no list'}`);
      }
      const [infos, list] = await Promise.all([
        Promise.all(dir.cameras.map((c) => this.client.request({ request: 'info', camera: c.id }))),
        this.#list(),
      ]);
      const cameras = dir.cameras.map((c, k) => {
        const info = infos[k];
        if (info.error_code || info.camera !== 'info') throw new Error(`info ${c.id}: error ${info.error_code}: ${info.error || ''}`);
        return { id: c.id, summary: c, info };
      });
      return { up: true, cameras, list, adminAccess: list !== null, durationMs: performance.now() - t0 };
    } catch (e) {
      return { up: false, error: e.message, durationMs: performance.now() - t0 };
    }
  }

  // {status, body, at}: cached for cacheMs; concurrent callers share one.
  async scrape() {
    const c = this.cached;
    if (c && performance.now() - c.at < this.cacheMs) return c;
    if (!this.inFlight) {
      this.inFlight = this.collect().then((s) => {
        this.#note('up', s.up ? null : `Janus down: ${s.error}`);
        const r = { status: s.up ? 200 : 503, body: render(s), at: performance.now(), data: s };
        this.cached = r;
        return r;
      }).finally(() => { this.inFlight = null; });
    }
    return this.inFlight;
  }

  async serve(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const text = 'method not allowed\n';
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), Allow: 'GET, HEAD' });
      res.end(text);
      return;
    }
    let r;
    try {
      r = await this.scrape();
    } catch (e) {
      this.log?.(`metrics: ${e.stack || e.message}`);
      r = { status: 500, body: `internal error: ${e.message}\n` };
    }
    if (res.destroyed) return;
    res.writeHead(r.status, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Content-Length': Buffer.byteLength(r.body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : r.body);
  }

  close() {
    return this.client.close();
  }
}

// serve.mjs's options for /metrics: consumes option `a` (val() takes its
// value) into opts and says whether it was one.
export function metricsOption(opts, a, val) {
  if (a === '--camera-config') opts.cameraConfig = val();
  else if (a === '--admin-key') opts.adminKey = val();
  else if (a === '--metrics-cache') opts.metricsCache = Number(val());
  else return false;
  return true;
}

export const METRICS_USAGE = '[--camera-config FILE] [--admin-key KEY] [--metrics-cache MS]';

// The Metrics of serve.mjs's options, or a usage error (a string).
export function metricsFromOptions(opts, janusUrl, log) {
  const cacheMs = opts.metricsCache ?? 1000;
  if (!Number.isFinite(cacheMs) || cacheMs < 0 || cacheMs > 60_000) return 'bad --metrics-cache';
  let configFile = opts.cameraConfig ?? null;
  if (configFile) {
    try {
      fs.accessSync(configFile, fs.constants.R_OK);
    } catch (e) {
      return `cannot read --camera-config ${configFile}: ${e.code || e.message}`;
    }
  } else if (!opts.adminKey) {
    // A packaged install: the plugin's configuration where Debian's Janus has it, if we may read it.
    try {
      fs.accessSync(DEFAULT_CAMERA_CONFIG, fs.constants.R_OK);
      configFile = DEFAULT_CAMERA_CONFIG;
    } catch {
      // no admin key: /metrics without the `list` metrics
    }
  }
  return new Metrics({ janusUrl, adminKey: opts.adminKey ?? null, configFile, cacheMs, log });
}
