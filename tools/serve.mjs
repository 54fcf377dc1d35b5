// SPDX-License-Identifier: GPL-3.0-or-later
//
// Dependency-free web server for the demo page: serves html/ at /, janus.js
// and adapter.js from the Debian packages, and reverse-proxies /janus to
// Janus's HTTP transport, so that a browser needs one origin and one port
// (no CORS, no second port to open on a robot's firewall).  Also serves
// still pictures for dashboards:
//
//   GET /snapshot.jpg?camera=ID[&width=W][&quality=Q][&pin=P]
//
// answers image/jpeg, the newest picture of camera ID (default: the first
// camera), with Last-Modified and X-Capture-Time (unix ms) from the picture's
// capture time, and X-Image-Width / X-Image-Height.  It is the plugin's
// `snapshot` request, made through Janus's HTTP API on one Janus session and
// handle per camera that this server keeps (kept alive, made anew when Janus
// forgets it, dropped after SNAPSHOT_IDLE_MS unused).  Each client address
// may ask --snapshot-rate pictures per second (bursts of as many); beyond,
// 429 with Retry-After.  Errors: 400 bad width/quality, 403 wrong or missing
// PIN (486), 404 no such camera, 429 rate limited (here, or the plugin's 490),
// 501 a plugin without snapshots, 502 Janus unreachable, 503 the camera's
// source is down (488), with a plain-text reason.
//
//   GET /metrics
//
// the plugin's counters in Prometheus's text format (tools/metrics.mjs;
// README, "Metrics"), with the admin key from --camera-config or
// --admin-key; 503 with janus_camera_up 0 while Janus does not answer.
//
//   node tools/serve.mjs [--listen ADDR] [--port N] [--janus URL] [--root DIR] [--settings FILE]
//                        [--snapshot-rate N] [--cert FILE --key FILE]
//                        [--camera-config FILE] [--admin-key KEY] [--metrics-cache MS]
//
//   --listen ADDR   bind address (default 0.0.0.0)
//   --port N        port (default 8000; 0 picks a free one)
//   --janus URL     Janus HTTP transport root (default http://127.0.0.1:8088);
//                   /janus/... is forwarded to URL/janus/..., and snapshots
//                   are asked at URL/janus
//   --root DIR      folder to serve (default: html/ beside this tool)
//   --settings FILE served as /settings.js, the page's optional settings
//                   (Janus servers, STUN/TURN; see html/settings.example.js);
//                   default: settings.js in the root, if there is one
//   --snapshot-rate N  /snapshot.jpg requests per second per client address
//                   (default 2; bursts of max(1, N); 0 turns /snapshot.jpg off)
//   --cert FILE     with --key: serve over HTTPS (node's https) with this PEM
//   --key FILE      certificate (chain) and key; --janus stays plain http
//   --camera-config FILE  the plugin's janus.plugin.camera.jcfg, for /metrics
//                   to read admin_key from (default
//                   /etc/janus/janus.plugin.camera.jcfg when readable)
//   --admin-key KEY the admin key, instead of reading it from the file
//   --metrics-cache MS  /metrics reuses a scrape this long (default 1000)

import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapshotService } from './snapshot-client.mjs';
import { metricsOption, metricsFromOptions, METRICS_USAGE } from './metrics.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const opts = {
    listen: '0.0.0.0',
    port: 8000,
    janus: 'http://127.0.0.1:8088',
    root: path.resolve(here, '..', 'html'),
    snapshotRate: 2,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--listen') opts.listen = val();
    else if (a === '--port') opts.port = Number(val());
    else if (a === '--janus') opts.janus = val();
    else if (metricsOption(opts, a, val)) continue;
    else if (a === '--root') opts.root = path.resolve(val());
    else if (a === '--settings') opts.settings = path.resolve(val());
    else if (a === '--snapshot-rate') opts.snapshotRate = Number(val());
    else if (a === '--cert') opts.cert = path.resolve(val());
    else if (a === '--key') opts.key = path.resolve(val());
    else if (a === '-h' || a === '--help') usage(null);
    else usage(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');
  if (!Number.isFinite(opts.snapshotRate) || opts.snapshotRate < 0 || opts.snapshotRate > 1000) usage('bad --snapshot-rate');
  try {
    opts.janusUrl = new URL(opts.janus);
    if (opts.janusUrl.protocol !== 'http:') throw new Error('only http:');
  } catch (e) {
    usage(`bad --janus URL: ${e.message}`);
  }
  if (opts.settings && !fs.existsSync(opts.settings)) usage(`no settings file ${opts.settings}`);
  if (!opts.cert !== !opts.key) usage('--cert and --key go together');
  return opts;
}

function usage(msg) {
  if (msg) console.error(`serve.mjs: ${msg}`);
  console.error('usage: node tools/serve.mjs [--listen ADDR] [--port N] [--janus http://HOST:PORT] [--root DIR] [--settings FILE] [--snapshot-rate N] [--cert FILE --key FILE] ' + METRICS_USAGE);
  process.exit(msg ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));

// Files served from outside the root: the page loads them as ./janus.js and
// ./adapter.js, so the Debian copies are used as they are, never vendored.
const aliases = {
  '/janus.js': '/usr/share/javascript/janus-gateway/janus.js',
  '/adapter.js': '/usr/share/javascript/webrtc-adapter/adapter.js',
};
if (opts.settings) aliases['/settings.js'] = opts.settings;

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

function log(...args) {
  console.log(new Date().toISOString(), ...args);
}

function sendText(res, status, text, extra = {}) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(text);
}

// Resolves a URL path to a file under root, or null if it would escape it.
function resolveStatic(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  if (Object.hasOwn(aliases, decoded)) return aliases[decoded];
  const file = path.resolve(opts.root, '.' + path.posix.normalize('/' + decoded));
  if (file !== opts.root && !file.startsWith(opts.root + path.sep)) return null;
  return file;
}

function serveStatic(req, res, urlPath) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const file = resolveStatic(urlPath);
  if (!file) {
    sendText(res, 400, 'bad path\n');
    return;
  }
  fs.stat(file, (err, st) => {
    // Directories are not listed: the page is the only entry point.
    if (err || !st.isFile()) {
      sendText(res, 404, 'not found\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': types[path.extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': st.size,
      // The page is small and changes while developing: always revalidate.
      'Cache-Control': 'no-cache',
      'Last-Modified': st.mtime.toUTCString(),
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
}

// Hop-by-hop headers (RFC 9110 7.6.1) are per connection, never forwarded.
const hopByHop = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te',
  'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate',
]);

function forwardHeaders(headers) {
  const out = {};
  const listed = (headers.connection || '').toLowerCase().split(',').map((s) => s.trim());
  for (const [k, v] of Object.entries(headers)) {
    if (!hopByHop.has(k) && !listed.includes(k)) out[k] = v;
  }
  return out;
}

// Janus long-polls last up to ~30 s and must not be cut, so the proxy keeps
// no timeouts of its own and streams both ways; a dead Janus shows as 502
// (janus.js counts failed polls and reports the session lost).
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function proxy(req, res) {
  const target = new URL(req.url, opts.janusUrl);
  const headers = forwardHeaders(req.headers);
  headers.host = opts.janusUrl.host;
  const peer = req.socket.remoteAddress || '';
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
  headers['x-forwarded-host'] = req.headers.host || '';
  headers['x-forwarded-proto'] = opts.cert ? 'https' : 'http';

  const up = http.request({
    agent,
    protocol: target.protocol,
    hostname: opts.janusUrl.hostname,
    port: opts.janusUrl.port || 80,
    method: req.method,
    path: target.pathname + target.search,
    headers,
  });
  up.on('response', (ures) => {
    res.writeHead(ures.statusCode, ures.statusMessage, forwardHeaders(ures.headers));
    ures.pipe(res);
    ures.on('error', () => res.destroy());
  });
  let clientGone = false;
  up.on('error', (err) => {
    // Our own destroy() below, after the browser left: nothing to report.
    if (clientGone) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    log(`proxy ${req.method} ${req.url}: ${err.code || err.message}`);
    const body = JSON.stringify({ janus: 'error', error: { code: 502, reason: `Janus unreachable: ${err.code || err.message}` } });
    res.writeHead(502, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    });
    res.end(body);
  });
  // The browser went away (page closed, poll aborted): drop the upstream too.
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      up.destroy();
    }
  });
  req.pipe(up);
}

// /snapshot.jpg: the plugin's `snapshot`, as a plain JPEG (see the top).
const snapshots = new SnapshotService({ janusUrl: new URL('/janus', opts.janusUrl).href, log });
const metrics = metricsFromOptions(opts, new URL('/janus', opts.janusUrl).href, log);
if (typeof metrics === 'string') usage(metrics);
const buckets = new Map();   // client address -> {tokens, at}
const burst = Math.max(1, opts.snapshotRate);

// Token bucket per client address: ms to wait, 0 when a token was taken.
function rateWait(addr) {
  const now = Date.now();
  let b = buckets.get(addr);
  if (!b) {
    b = { tokens: burst, at: now };
    buckets.set(addr, b);
  }
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * opts.snapshotRate);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return Math.ceil(((1 - b.tokens) / opts.snapshotRate) * 1000);
}
// Full buckets are forgotten: the map stays as small as the active clients.
setInterval(() => {
  const now = Date.now();
  for (const [k, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * opts.snapshotRate >= burst) buckets.delete(k);
}, 10_000).unref();

async function serveSnapshot(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const wait = rateWait(req.socket.remoteAddress || '');
  if (wait > 0) {
    sendText(res, 429, `too many snapshots: at most ${opts.snapshotRate} per second\n`, { 'Retry-After': String(Math.ceil(wait / 1000)) });
    return;
  }
  const q = new URL(req.url, 'http://x').searchParams;
  const r = await snapshots.get({
    camera: q.get('camera'),
    width: q.get('width'),
    quality: q.get('quality'),
    pin: q.get('pin'),
  });
  if (res.destroyed) return;
  if (r.status !== 200) {
    sendText(res, r.status, `${r.reason}\n`, r.retryAfter ? { 'Retry-After': String(r.retryAfter) } : {});
    return;
  }
  const headers = {
    'Content-Type': 'image/jpeg',
    'Content-Length': r.jpeg.length,
    'Cache-Control': 'no-store',
    'X-Camera': r.camera,
    'X-Content-Type-Options': 'nosniff',
  };
  if (Number.isFinite(r.captured)) {
    headers['Last-Modified'] = new Date(r.captured).toUTCString();
    headers['X-Capture-Time'] = String(r.captured);
  }
  if (Number.isInteger(r.width)) headers['X-Image-Width'] = String(r.width);
  if (Number.isInteger(r.height)) headers['X-Image-Height'] = String(r.height);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : r.jpeg);
}

// HTTPS with --cert/--key, else plain HTTP; the same handler either way.
function createServer(handler) {
  if (!opts.cert) return http.createServer(handler);
  try {
    return https.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, handler);
  } catch (e) {
    console.error(`serve.mjs: TLS: ${e.message}`);
    process.exit(1);
  }
}

const server = createServer((req, res) => {
  let urlPath;
  try {
    urlPath = new URL(req.url, 'http://x').pathname;
  } catch {
    sendText(res, 400, 'bad request\n');
    return;
  }
  if (urlPath === '/janus' || urlPath.startsWith('/janus/')) {
    proxy(req, res);
  } else if (urlPath === '/snapshot.jpg' && opts.snapshotRate > 0) {
    serveSnapshot(req, res);
  } else if (urlPath === '/metrics') {
    metrics.serve(req, res);
  } else if (urlPath === '/') {
    res.writeHead(302, { Location: '/camera.html' + (new URL(req.url, 'http://x').search), 'Content-Length': 0 });
    res.end();
  } else {
    serveStatic(req, res, urlPath);
  }
});
// Long polls: no request/idle limits that would cut them before Janus answers.
server.requestTimeout = 0;
server.headersTimeout = 60_000;
server.keepAliveTimeout = 65_000;
server.timeout = 0;

server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else socket.destroy();
});

server.on('error', (err) => {
  console.error(`serve.mjs: ${err.message}`);
  process.exit(1);
});

server.listen(opts.port, opts.listen, () => {
  const a = server.address();
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  log(`serving ${opts.root} on ${opts.cert ? 'https' : 'http'}://${host}:${a.port}/ (janus proxy -> ${opts.janusUrl.origin})`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    // Frees this server's Janus sessions (bounded: Janus may be gone).
    Promise.all([snapshots.close(), metrics.close()]).finally(() => process.exit(0));
  });
}
