// SPDX-License-Identifier: GPL-3.0-or-later
//
// What Janus event handlers get from the plugin: a small HTTP server, inside
// the namespace, for Janus's own sample event handler (libjanus_sampleevh,
// from Debian's janus; startJanus's eventsUrl) to post every event to.

import http from 'node:http';
import { CLIENT_IP } from './util.mjs';

export const EVENTS_PORT = 9099;
export const EVENTS_URL = `http://${CLIENT_IP}:${EVENTS_PORT}/events`;

// Collects the plugin's events, in arrival order: [{at, session_id, handle_id, data}].
export async function startCollector({ ip = CLIENT_IP, port = EVENTS_PORT } = {}) {
  const events = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try {
        const parsed = JSON.parse(body);
        for (const e of Array.isArray(parsed) ? parsed : [parsed]) {
          if (e?.event?.plugin === 'janus.plugin.camera') {
            events.push({ at: performance.now(), session_id: e.session_id, handle_id: e.handle_id, data: e.event.data });
          }
        }
      } catch {
        // not ours to judge: the tests look only for the events they expect
      }
      res.end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, resolve);
  });
  return { events, close: () => new Promise((resolve) => server.close(resolve)) };
}
