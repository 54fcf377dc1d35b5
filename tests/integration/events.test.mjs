// SPDX-License-Identifier: GPL-3.0-or-later
//
// What Janus event handlers get from the plugin: Janus's own sample event
// handler (libjanus_sampleevh, from Debian's janus) posts every plugin
// event to a small HTTP server of this test, inside the namespace.  A
// controller that falls silent loses control ("timeout"), and a viewer that
// is killed is dropped ("silent"): both must reach the event handler with
// the viewer's id and the reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupJanus } from './lib/setup.mjs';
import { ViewerProcess } from './lib/viewer.mjs';
import { startCollector, EVENTS_URL } from './lib/events.mjs';
import { waitFor } from './lib/util.mjs';

test('event handlers get the silent controller\'s "timeout" and the killed viewer\'s "dropped", with ids and reasons', { timeout: 90000 }, async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const ctx = await setupJanus(t, {
    set: { liveness_ms: 2000, control_timeout_ms: 1000, deadman_ms: 500 },
    eventsUrl: EVENTS_URL,
  });
  const v = new ViewerProcess({ url: ctx.janus.url, name: 'doomed' });
  ctx.cleanups.push(() => v.close());
  const joined = await v.join();
  const id = joined.id;
  assert.ok(id, `viewer id: ${JSON.stringify(joined)}`);
  const find = (pred, what) => waitFor(() => collector.events.find((e) => pred(e.data)),
    { timeout: 8000, what: () => `${what} at the event handler; got ${JSON.stringify(collector.events.map((e) => e.data))}` });

  await find((d) => d.event === 'started' && d.id === id, 'started');
  const take = await v.request({ request: 'take_control' });
  assert.equal(take.data?.controller, id, JSON.stringify(take.data));
  const taken = await find((d) => d.event === 'controller' && d.controller === id, 'controller taken');
  assert.equal(taken.data.reason, 'take');

  // Silent for control_timeout_ms (1 s): control goes, reason "timeout".
  const lost = await find((d) => d.event === 'controller' && d.controller === null && d.previous === id, 'controller timeout');
  console.log(`# event handler: control lost ${(lost.at - taken.at).toFixed(0)} ms after it was taken: ${JSON.stringify(lost.data)}`);
  assert.equal(lost.data.reason, 'timeout');

  // Killed: dropped after liveness_ms (2 s), reason "silent", on its handle.
  await v.kill();
  const killedAt = performance.now();
  const dropped = await find((d) => d.event === 'dropped' && d.id === id, 'dropped');
  console.log(`# event handler: dropped ${(dropped.at - killedAt).toFixed(0)} ms after the kill: ${JSON.stringify(dropped.data)}`);
  assert.equal(dropped.data.reason, 'silent');
  assert.equal(dropped.session_id, joined.sessionId, 'the event names the viewer\'s Janus session');
  assert.equal(dropped.handle_id, joined.handleId, 'the event names the viewer\'s handle');
  const left = await find((d) => d.event === 'left' && d.id === id, 'left');
  assert.ok(left.at >= dropped.at - 1000, 'left belongs to the drop');
});
