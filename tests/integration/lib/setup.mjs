// SPDX-License-Identifier: GPL-3.0-or-later
//
// The per-test setup every plugin test shares: check that we run inside the
// test namespace with a built plugin, start a private Janus with it, keep an
// ordered list of cleanups (run newest first when the test ends, then Janus
// is stopped and judged: a crash, a hang or a sanitizer report fails the
// test), and a plain attached handle for `info` and admin requests (never
// watching, so it is not a viewer itself).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startJanus, CAMERA_SO } from './janus.mjs';
import { Session } from './api.mjs';
import { PLUGIN } from './viewer.mjs';
import { inTestNamespace } from './util.mjs';

export async function setupJanus(t, janusOpts = {}, ctx = {}) {
  assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
  assert.ok(fs.existsSync(CAMERA_SO), `no plugin at ${CAMERA_SO}: build first (make)`);
  const cleanups = [];
  ctx.cleanups = cleanups;
  t.after(async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        console.log(`# cleanup: ${e.message}`);
      }
    }
    if (ctx.janus) await ctx.janus.stopAndCheck();
  });
  ctx.janus = await startJanus({ name: t.name.replace(/\W+/g, '-').slice(0, 40), ...janusOpts });
  assert.ok(ctx.janus.pluginPackages.includes(PLUGIN), `plugins loaded: ${ctx.janus.pluginPackages}`);
  ctx.admin = await Session.create(ctx.janus.url);
  cleanups.push(() => ctx.admin.destroy());
  ctx.adminHandle = await ctx.admin.attach(PLUGIN);
  ctx.info = async (timeout = 5000) => {
    const r = await ctx.adminHandle.message({ request: 'info' }, { timeout });
    assert.equal(r.data?.camera, 'info', `info answer: ${JSON.stringify(r.data)}`);
    return r.data;
  };
  ctx.logExcerpt = (re = /camera|ERR|WARN/i) => `--- Janus log (${ctx.janus.logFile}) ---\n${ctx.janus.grep(re, 40)}`;
  return ctx;
}
