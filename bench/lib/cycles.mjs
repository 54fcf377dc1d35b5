// SPDX-License-Identifier: GPL-3.0-or-later
//
// Join/leave cycles against janus.plugin.camera, to see whether the plugin
// gives back what a viewer costs.  Two kinds:
//   - "signalling" cycles over the raw HTTP API: create session, attach,
//     watch (Janus builds the PeerConnection and ICE agent and sends the
//     offer), then detach and destroy, without answering: no ICE, no DTLS,
//     no media.  Cheap, so there can be many.
//   - "full" cycles: a werift viewer joins (ICE, DTLS, media), waits for its
//     first key frame, and leaves.

import { randomBytes } from 'node:crypto';
import { BenchViewer } from './viewers.mjs';
import { sleep } from './procs.mjs';

const tx = () => randomBytes(9).toString('base64url');

async function post(url, body) {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    return await r.json();
  } catch (e) {
    // Say which request it was: a bare "aborted due to timeout" tells nothing.
    throw new Error(`${body.janus}${body.body ? ' ' + body.body.request : ''}: ${e.message}`);
  }
}

async function signallingCycle(base) {
  const s = await post(base, { janus: 'create', transaction: tx() });
  if (s.janus !== 'success') throw new Error(`create: ${JSON.stringify(s)}`);
  const surl = `${base}/${s.data.id}`;
  try {
    const h = await post(surl, { janus: 'attach', plugin: 'janus.plugin.camera', transaction: tx() });
    if (h.janus !== 'success') throw new Error(`attach: ${JSON.stringify(h)}`);
    const hurl = `${surl}/${h.data.id}`;
    const t = tx();
    const ack = await post(hurl, { janus: 'message', transaction: t, body: { request: 'watch' } });
    if (ack.janus !== 'ack') throw new Error(`watch: ${JSON.stringify(ack)}`);
    // The event with the offer (bounded: a few long polls at most).
    let offer = false;
    for (let i = 0; i < 5 && !offer; i++) {
      let body;
      try {
        const r = await fetch(`${surl}?maxev=5&rid=${Date.now()}`, { signal: AbortSignal.timeout(15000) });
        body = await r.json();
      } catch (e) {
        throw new Error(`long poll for the offer: ${e.message}`);
      }
      for (const m of Array.isArray(body) ? body : [body]) {
        if (m.transaction === t && m.jsep) offer = true;
        if (m.transaction === t && m.plugindata?.data?.error_code) throw new Error(`watch: ${JSON.stringify(m.plugindata.data)}`);
      }
    }
    if (!offer) throw new Error('no offer');
    await post(hurl, { janus: 'detach', transaction: tx() });
  } finally {
    await post(surl, { janus: 'destroy', transaction: tx() }).catch(() => {});
  }
}

// Runs `signalling` + `full` cycles, `concurrency` signalling ones at a time.
// Returns {signalling, full, errors, seconds}.
export async function joinLeaveCycles(base, { signalling = 950, full = 50, concurrency = 4 } = {}) {
  const t0 = performance.now();
  const errors = [];
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < signalling) {
      next++;
      try {
        await signallingCycle(base);
        done++;
      } catch (e) {
        if (errors.length < 20) errors.push(e.message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  let fullDone = 0;
  for (let i = 0; i < full; i++) {
    const v = new BenchViewer({ kind: 'camera', url: base }, `cycle-${i}`);
    try {
      await v.join(15000).catch((e) => { throw new Error(`full join: ${e.message}`); });
      for (let k = 0; k < 100 && v.rtp.keyframes === 0; k++) await sleep(50);
      if (v.rtp.keyframes === 0) throw new Error('no key frame within 5 s');
      fullDone++;
    } catch (e) {
      if (errors.length < 20) errors.push(e.message);
    } finally {
      await v.close();
    }
  }
  return { signalling: done, full: fullDone, errors, seconds: (performance.now() - t0) / 1000 };
}
