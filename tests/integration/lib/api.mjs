// SPDX-License-Identifier: GPL-3.0-or-later
//
// A minimal client of the Janus HTTP API (the REST transport), enough to drive
// a plugin from a test: sessions, handles, messages (sync replies and async
// events matched by transaction), the long-poll event loop, trickle, detach and
// destroy.  Every request and every wait has a timeout.

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { sleep } from './util.mjs';

const tx = () => randomBytes(9).toString('base64url');

// A Janus core error ({"janus":"error"}), as opposed to a plugin error, which
// arrives as plugin data with error_code.
export class JanusError extends Error {
  constructor(code, reason, raw) {
    super(`Janus error ${code}: ${reason}`);
    this.code = code;
    this.reason = reason;
    this.raw = raw;
  }
}

// POSTs a JSON body (or, for malformed-request tests, a raw string) and returns
// the parsed answer.
export async function post(url, body, { timeout = 10000 } = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
  });
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`non-JSON answer from ${url} (HTTP ${r.status}): ${text.slice(0, 200)}`);
  }
}

export class Session extends EventEmitter {
  constructor(base, id) {
    super();
    this.base = base; // http://ip:port/janus
    this.id = id;
    this.url = `${base}/${id}`;
    this.handles = new Map();
    this.waiters = new Map(); // transaction -> {resolve, reject, timer}
    this.closed = false;
    this.polling = null;
    this.events = 0;
  }

  static async create(base, { timeout = 10000 } = {}) {
    const r = await post(base, { janus: 'create', transaction: tx() }, { timeout });
    if (r.janus !== 'success') throw new JanusError(r.error?.code, r.error?.reason, r);
    const s = new Session(base, r.data.id);
    s.polling = s.#poll();
    return s;
  }

  // The long-poll loop: GET /janus/<session>?maxev=N.  Janus answers within
  // ~30 s with events or a keepalive; each GET also keeps the session alive.
  // The loop ends when the session is destroyed or Janus goes away.
  async #poll() {
    let failures = 0;
    while (!this.closed) {
      let msgs;
      try {
        const r = await fetch(`${this.url}?maxev=10&rid=${Date.now()}`, { signal: AbortSignal.timeout(45000) });
        const body = await r.json();
        msgs = Array.isArray(body) ? body : [body];
        failures = 0;
      } catch (e) {
        if (this.closed) break;
        // A few transient failures are tolerated; Janus gone for good ends it.
        if (++failures >= 5) {
          this.emit('poll-error', e);
          break;
        }
        await sleep(200);
        continue;
      }
      for (const m of msgs) this.#dispatch(m);
    }
  }

  #dispatch(m) {
    if (m.janus === 'keepalive') return;
    this.events++;
    if (m.janus === 'error' && m.error?.code === 458) {
      // "No such session": it timed out or was destroyed under us.
      this.closed = true;
      this.emit('gone', m);
      return;
    }
    const w = m.transaction && this.waiters.get(m.transaction);
    if (w && m.janus === 'event') {
      this.waiters.delete(m.transaction);
      clearTimeout(w.timer);
      w.resolve(m);
    }
    const h = m.sender && this.handles.get(m.sender);
    if (h) h.emit(m.janus, m);
    this.emit('message', m);
  }

  // Waits for the async event that carries transaction t.
  waitTransaction(t, timeout) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(t);
        reject(new Error(`no event for transaction ${t} within ${timeout} ms`));
      }, timeout);
      this.waiters.set(t, { resolve, reject, timer });
    });
  }

  async attach(plugin, { timeout = 10000, opaqueId } = {}) {
    const body = { janus: 'attach', plugin, transaction: tx() };
    if (opaqueId) body.opaque_id = opaqueId;
    const r = await post(this.url, body, { timeout });
    if (r.janus !== 'success') throw new JanusError(r.error?.code, r.error?.reason, r);
    const h = new Handle(this, r.data.id, plugin);
    this.handles.set(h.id, h);
    return h;
  }

  async keepalive({ timeout = 5000 } = {}) {
    return post(this.url, { janus: 'keepalive', transaction: tx() }, { timeout });
  }

  async destroy({ timeout = 5000 } = {}) {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new Error('session destroyed'));
    }
    this.waiters.clear();
    try {
      await post(this.url, { janus: 'destroy', transaction: tx() }, { timeout });
    } catch {
      // Janus may already be gone; nothing else to clean up on our side.
    }
  }
}

export class Handle extends EventEmitter {
  constructor(session, id, plugin) {
    super();
    this.session = session;
    this.id = id;
    this.plugin = plugin;
    this.url = `${session.url}/${id}`;
  }

  // Sends a plugin message.  Returns {sync, data, jsep, raw}: for a
  // synchronous answer the plugin data of the "success"; for an "ack", the
  // event with the same transaction (waited for up to `timeout`).  A Janus
  // core error throws JanusError.  body may be any JSON value, or a raw string
  // in `rawBody` to test what the core and plugin do with malformed input.
  async message(body, { jsep, timeout = 10000, rawBody } = {}) {
    const t = tx();
    const waiter = this.session.waitTransaction(t, timeout);
    waiter.catch(() => {}); // a sync answer leaves it unused
    let r;
    try {
      if (rawBody !== undefined) {
        r = await post(this.url, rawBody, { timeout });
      } else {
        const msg = { janus: 'message', transaction: t, body };
        if (jsep) msg.jsep = jsep;
        r = await post(this.url, msg, { timeout });
      }
    } catch (e) {
      this.#forget(t);
      throw e;
    }
    if (r.janus === 'success') {
      this.#forget(t);
      return { sync: true, data: r.plugindata?.data, jsep: r.jsep, raw: r };
    }
    if (r.janus === 'ack') {
      const ev = await waiter;
      return { sync: false, data: ev.plugindata?.data, jsep: ev.jsep, raw: ev };
    }
    this.#forget(t);
    if (r.janus === 'error') throw new JanusError(r.error?.code, r.error?.reason, r);
    throw new Error(`unexpected answer to message: ${JSON.stringify(r).slice(0, 300)}`);
  }

  #forget(t) {
    const w = this.session.waiters.get(t);
    if (w) {
      clearTimeout(w.timer);
      this.session.waiters.delete(t);
    }
  }

  // Posts any raw JSON object to this handle's URL (for malformed tests).
  async raw(obj, { timeout = 10000 } = {}) {
    return post(this.url, obj, { timeout });
  }

  async trickle(candidate, { timeout = 5000 } = {}) {
    const c = candidate ?? { completed: true };
    return post(this.url, { janus: 'trickle', transaction: tx(), candidate: c }, { timeout });
  }

  async hangup({ timeout = 5000 } = {}) {
    return post(this.url, { janus: 'hangup', transaction: tx() }, { timeout });
  }

  async detach({ timeout = 5000 } = {}) {
    this.session.handles.delete(this.id);
    return post(this.url, { janus: 'detach', transaction: tx() }, { timeout });
  }

  // Resolves with the next event on this handle that passes filter(msg).
  nextEvent(filter = () => true, { timeout = 10000, type = 'event' } = {}) {
    return new Promise((resolve, reject) => {
      const on = (m) => {
        if (!filter(m)) return;
        cleanup();
        resolve(m);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching '${type}' on handle ${this.id} within ${timeout} ms`));
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this.off(type, on);
      };
      this.on(type, on);
    });
  }
}

// One-shot helpers for tests that need a plain handle.
export async function connect(base, plugin, opts) {
  const session = await Session.create(base, opts);
  const handle = await session.attach(plugin, opts);
  return { session, handle };
}
