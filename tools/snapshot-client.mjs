// SPDX-License-Identifier: GPL-3.0-or-later
//
// The plugin's `snapshot` request over Janus's HTTP API, for tools/serve.mjs
// (GET /snapshot.jpg).  Dependency-free (node's fetch).
//
// One Janus session and handle per camera (and one for the `cameras` list),
// made on first use, kept alive with a `keepalive` every KEEPALIVE_MS, made
// anew when Janus no longer knows it (458/459, or Janus restarted), and
// destroyed after IDLE_MS without a request.  The handle never watches: it
// is no viewer, so it takes no viewer slot.  The plugin answers `snapshot`
// synchronously (api: issue 9); an asynchronous answer (an `ack`, then an
// event with the same transaction) is read from the session's long poll.
//
// SnapshotService.get() never throws: it answers an HTTP status and a
// reason, or 200 with the JPEG.

import { randomBytes } from 'node:crypto';

const PLUGIN = 'janus.plugin.camera';
const KEEPALIVE_MS = 25_000;      // Janus's session_timeout is 60 s by default
const IDLE_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 10_000; // snapshot of an on-demand camera: up to ~3 s
const CAMERAS_TTL_MS = 5_000;
const CAMERA_ID = /^[A-Za-z0-9_-]{1,32}$/;

const tx = () => randomBytes(9).toString('base64url');

class JanusGone extends Error {}

async function post(url, body, timeout = REQUEST_TIMEOUT_MS) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
  });
  return r.json();
}

// One session + handle on the plugin (also tools/metrics.mjs's); timeout:
// for each request, ms.
export class Client {
  constructor(base, name, log, timeout = REQUEST_TIMEOUT_MS) {
    this.base = base;
    this.timeout = timeout;
    this.name = name;
    this.log = log;
    this.ready = null;        // Promise<{session, handle}> while alive
    this.keepalive = null;
    this.lastUse = 0;
    this.waiters = new Map(); // transaction -> resolve, for asynchronous answers
    this.polling = false;
  }

  async #open() {
    const c = await post(this.base, { janus: 'create', transaction: tx() });
    if (c.janus !== 'success') throw new Error(`create: ${c.error?.reason || c.janus}`);
    const session = c.data.id;
    const a = await post(`${this.base}/${session}`, { janus: 'attach', plugin: PLUGIN, transaction: tx() });
    if (a.janus !== 'success') throw new Error(`attach: ${a.error?.reason || a.janus}`);
    const ids = { session, handle: a.data.id };
    this.keepalive = setInterval(() => this.#keepalive(ids), KEEPALIVE_MS);
    this.keepalive.unref();
    return ids;
  }

  async #keepalive(ids) {
    if (Date.now() - this.lastUse > IDLE_MS) {
      this.close();
      return;
    }
    try {
      const r = await post(`${this.base}/${ids.session}`, { janus: 'keepalive', transaction: tx() }, 5000);
      if (r.janus === 'error') this.drop();
    } catch {
      this.drop();
    }
  }

  // Forgets the session here (Janus forgot it, or is gone).
  drop() {
    clearInterval(this.keepalive);
    this.keepalive = null;
    this.ready = null;
  }

  // Destroys the session on Janus too (bounded).
  async close() {
    const ready = this.ready;
    this.drop();
    if (!ready) return;
    try {
      const { session } = await ready;
      await post(`${this.base}/${session}`, { janus: 'destroy', transaction: tx() }, 1000);
    } catch {
      // gone already
    }
  }

  // The plugin's answer (its `data`) to `body`.  Throws JanusGone when
  // Janus cannot be reached; a session Janus forgot is made anew once.
  async request(body) {
    this.lastUse = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (!this.ready) {
        const opening = this.#open();
        this.ready = opening;
        opening.catch(() => { if (this.ready === opening) this.drop(); });
      }
      let ids;
      let r;
      const t = tx();
      try {
        ids = await this.ready;
        r = await post(`${this.base}/${ids.session}/${ids.handle}`, { janus: 'message', body, transaction: t }, this.timeout);
      } catch (e) {
        this.drop();
        throw new JanusGone(`Janus unreachable: ${e.cause?.code || e.message}`);
      }
      if (r.janus === 'error' && (r.error?.code === 458 || r.error?.code === 459) && attempt === 0) {
        this.log?.(`snapshot client ${this.name}: Janus forgot session ${ids.session}; making a new one`);
        this.drop();
        continue;
      }
      if (r.janus === 'success') return r.plugindata?.data ?? {};
      if (r.janus === 'ack') return this.#awaitEvent(ids, t);
      throw new JanusGone(`Janus: ${r.error?.code ?? ''} ${r.error?.reason ?? r.janus}`.trim());
    }
  }

  // An asynchronous answer: the event with transaction `t`, from the long poll.
  #awaitEvent(ids, t) {
    const p = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(t);
        reject(new JanusGone('no answer from the plugin in time'));
      }, REQUEST_TIMEOUT_MS);
      this.waiters.set(t, (data) => {
        clearTimeout(timer);
        this.waiters.delete(t);
        resolve(data);
      });
    });
    this.#poll(ids);
    return p;
  }

  async #poll(ids) {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.waiters.size && this.ready) {
        let msgs;
        try {
          const r = await fetch(`${this.base}/${ids.session}?maxev=10&rid=${Date.now()}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          msgs = [await r.json()].flat();
        } catch {
          break;   // the waiters time out on their own
        }
        for (const m of msgs) {
          const w = m && m.transaction && this.waiters.get(m.transaction);
          if (w && m.janus === 'event') w(m.plugindata?.data ?? {});
        }
      }
    } finally {
      this.polling = false;
    }
  }
}

const fail = (status, reason, retryAfter) => ({ status, reason, retryAfter });

export class SnapshotService {
  constructor({ janusUrl, log }) {
    this.base = janusUrl.replace(/\/+$/, '');   // http://host:port/janus
    this.log = log;
    this.clients = new Map();   // camera id -> Client
    this.directory = new Client(this.base, '(cameras)', log);
    this.cameraList = null;     // {list, at}
    this.inFlight = new Map();  // same question asked twice at once: one request
  }

  // The plugin's `cameras` list, cached for CAMERAS_TTL_MS.  {list} or a failure.
  async #cameras(fresh = false) {
    const c = this.cameraList;
    if (c && !fresh && Date.now() - c.at < CAMERAS_TTL_MS) return c;
    let r;
    try {
      r = await this.directory.request({ request: 'cameras' });
    } catch (e) {
      return fail(502, e.message);
    }
    if (r.error_code === 482) return fail(501, 'this camera plugin has no snapshots (it does not know `cameras`)');
    if (r.error_code) return fail(502, `cameras: error ${r.error_code}: ${r.error || ''}`);
    if (!Array.isArray(r.cameras)) return fail(502, 'cameras: no list in the answer');
    this.cameraList = { list: r.cameras, at: Date.now() };
    return this.cameraList;
  }

  // {camera, width, quality, pin}: strings from the query (or null).
  async get(q) {
    const int = (name, v) => {
      if (v === null || v === undefined || v === '') return { ok: true };
      if (!/^\d{1,6}$/.test(v)) return { ok: false, reason: `${name} must be a whole number` };
      return { ok: true, value: Number(v) };
    };
    const width = int('width', q.width);
    const quality = int('quality', q.quality);
    for (const x of [width, quality]) if (!x.ok) return fail(400, x.reason);
    if (q.camera !== null && q.camera !== undefined && !CAMERA_ID.test(q.camera)) return fail(404, `no camera '${q.camera}'`);

    let dir = await this.#cameras();
    if (!dir.list) return dir;
    let id = q.camera ?? dir.list[0]?.id;
    // A camera not in a list some seconds old: ask again before saying 404.
    if (id !== undefined && !dir.list.some((c) => c.id === id) && Date.now() - dir.at > 1000) {
      dir = await this.#cameras(true);
      if (!dir.list) return dir;
      id = q.camera ?? dir.list[0]?.id;
    }
    if (id === undefined || !dir.list.some((c) => c.id === id)) return fail(404, `no camera '${id ?? ''}'`);

    const body = { request: 'snapshot', camera: id };
    if (width.value !== undefined) body.width = width.value;
    if (quality.value !== undefined) body.quality = quality.value;
    if (q.pin !== null && q.pin !== undefined) body.pin = q.pin;
    const key = JSON.stringify(body);
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.#snapshot(id, body).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  async #snapshot(id, body) {
    let client = this.clients.get(id);
    if (!client) {
      client = new Client(this.base, id, this.log);
      this.clients.set(id, client);
    }
    let r;
    try {
      r = await client.request(body);
    } catch (e) {
      return fail(502, e.message);
    }
    if (r.error_code) {
      const why = `error ${r.error_code}: ${r.error || ''}`;
      switch (r.error_code) {
        case 482: return fail(501, `this camera plugin has no snapshots (${why})`);
        case 483: return fail(400, why);
        case 484: return /no camera/i.test(r.error || '') ? fail(404, why) : fail(400, why);
        case 486: return fail(403, why);
        case 488: return fail(503, why, 1);
        case 490: return fail(429, why, 1);
        default: return fail(502, why);
      }
    }
    if (r.camera !== 'snapshot' || typeof r.data !== 'string') return fail(502, 'no picture in the plugin\'s answer');
    const jpeg = Buffer.from(r.data, 'base64');
    if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return fail(502, 'the plugin\'s picture is not a JPEG');
    return { status: 200, jpeg, captured: r.captured, width: r.width, height: r.height, camera: r.id ?? id };
  }

  async close() {
    await Promise.all([this.directory, ...this.clients.values()].map((c) => c.close()));
  }
}
