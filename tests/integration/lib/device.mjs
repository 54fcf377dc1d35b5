// SPDX-License-Identifier: GPL-3.0-or-later
//
// A test device program on the plugin's control socket (api.md, "The device
// program's side"): a plain net.Socket client that records every line the
// plugin writes, with its arrival time (Date.now(), the same clock a page on
// this machine uses), and writes telemetry lines.  It can also stop reading
// (pause: the kernel buffers fill and the plugin must drop, not block).

import net from 'node:net';
import { EventEmitter } from 'node:events';
import { sleep, waitFor, withTimeout } from './util.mjs';

export class Device extends EventEmitter {
  constructor(path, { name = 'device' } = {}) {
    super();
    this.path = path;
    this.name = name;
    this.lines = []; // {at, hrAt, text, msg} in arrival order (msg: parsed, or undefined)
    this.maxLines = 200000;
    this.bytes = 0; // bytes read, including lines not kept
    this.count = 0; // lines read
    this.buf = '';
    this.sock = null;
    this.closed = true;
  }

  // Connects, retrying until the plugin listens (it binds during Janus start).
  async connect({ timeout = 10000, read = true } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        await this.#open(read);
        return this;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`${this.name}: cannot connect to ${this.path}: ${e.message}`);
        await sleep(50);
      }
    }
  }

  #open(read) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(this.path);
      const fail = (e) => {
        sock.destroy();
        reject(e);
      };
      sock.once('error', fail);
      sock.once('connect', () => {
        sock.off('error', fail);
        this.sock = sock;
        this.closed = false;
        sock.setEncoding('utf8');
        // Without a 'data' listener nothing is read: a program that never
        // reads is exactly a socket nobody listens to.
        this.reading = read;
        if (read) sock.on('data', (d) => this.#onData(d));
        sock.on('error', (e) => this.emit('socket-error', e));
        sock.on('close', () => {
          this.closed = true;
          this.emit('close');
        });
        resolve();
      });
    });
  }

  #onData(chunk) {
    const at = Date.now();
    // Wall clock with sub-millisecond resolution, comparable with a page's
    // performance.timeOrigin + performance.now() on this machine.
    const hrAt = performance.timeOrigin + performance.now();
    this.bytes += Buffer.byteLength(chunk);
    this.buf += chunk;
    let i;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const text = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      this.count++;
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = undefined;
      }
      const line = { at, hrAt, text, msg };
      if (this.lines.length < this.maxLines) this.lines.push(line);
      this.emit('line', line);
    }
  }

  // Lines of one kind: commands ({from,data}), events ({event}), errors ({error}).
  get commands() {
    return this.lines.filter((l) => l.msg && 'from' in l.msg);
  }

  get events() {
    return this.lines.filter((l) => l.msg && 'event' in l.msg);
  }

  get stops() {
    return this.lines.filter((l) => l.msg && l.msg.event === 'stop');
  }

  get errors() {
    return this.lines.filter((l) => l.msg && 'error' in l.msg);
  }

  // Writes one line (an object is serialised; a string is sent as given,
  // so malformed lines can be tested).
  write(v) {
    if (!this.sock || this.closed) throw new Error(`${this.name}: not connected`);
    this.sock.write(typeof v === 'string' ? v : `${JSON.stringify(v)}\n`);
  }

  // Resolves with the first line at index >= from that passes pred.
  async waitLine(pred, { from = 0, timeout = 5000, what = 'a line' } = {}) {
    return waitFor(() => {
      for (let i = from; i < this.lines.length; i++) if (pred(this.lines[i].msg, this.lines[i])) return this.lines[i];
      return null;
    }, { timeout, interval: 5, what: () => `${this.name}: ${what} (${this.lines.length} lines, last: ${this.lines.at(-1)?.text?.slice(0, 200)})` });
  }

  // Stops reading (the kernel buffers fill up) / reads again.
  pause() {
    this.sock?.pause();
  }

  resume() {
    this.sock?.resume();
  }

  // Starts reading on a socket connected with {read: false}.
  startReading() {
    if (!this.sock || this.reading) return;
    this.reading = true;
    this.sock.on('data', (d) => this.#onData(d));
    this.sock.resume();
  }

  async close() {
    if (!this.sock || this.closed) return;
    const done = new Promise((resolve) => this.sock.once('close', resolve));
    this.sock.destroy();
    await withTimeout(done, 2000, `${this.name}: close`).catch(() => {});
  }
}
