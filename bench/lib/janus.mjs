// SPDX-License-Identifier: GPL-3.0-or-later
//
// Starts a private Janus for the benchmark.  Like the integration harness's
// startJanus (tests/integration/lib/janus.mjs), but it can add plugin
// configuration files (the streaming plugin's mountpoint) before Janus
// starts, and Janus runs in its own process group via spawnGroup.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { spawnGroup, sleep } from './procs.mjs';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const CAMERA_SO = path.join(repoRoot, '.libs', 'libjanus_camera.so');
const multiarch = (() => {
  try {
    return execFileSync('dpkg-architecture', ['-qDEB_HOST_MULTIARCH']).toString().trim();
  } catch {
    return 'x86_64-linux-gnu';
  }
})();
export const STREAMING_SO = `/usr/lib/${multiarch}/janus/plugins/libjanus_streaming.so`;

//   dir: a fresh folder for the configuration and the log
//   plugins: .so paths; set: ["key=value"] for janus.plugin.camera.jcfg
//   files: {name: text} written into the configuration folder
export async function startJanus({ dir, plugins = [CAMERA_SO], set = [], files = {}, ip, iface, httpPort = 8088,
  debugLevel = Number(process.env.BENCH_JANUS_DEBUG || 3) }) {
  fs.mkdirSync(dir, { recursive: true });
  const args = ['--out', dir, '--ip', ip, '--http-port', String(httpPort), '--interface', iface, '--debug-level', String(debugLevel)];
  for (const so of plugins) args.push('--plugin', so);
  for (const kv of set) args.push('--set', kv);
  const cmdline = execFileSync(path.join(repoRoot, 'tools', 'janus-conf'), args).toString().trim();
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const argv = cmdline.split(/\s+/);
  argv.push('-o'); // no colours in the log
  const logFile = path.join(dir, 'janus.log');
  const g = spawnGroup(argv[0], argv.slice(1), { logFile });
  const url = `http://${ip}:${httpPort}/janus`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (!g.running) throw new Error(`Janus exited during start; see ${logFile}`);
    try {
      const r = await fetch(`${url}/info`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        const info = await r.json();
        const want = plugins.map((p) => path.basename(p));
        const loaded = Object.keys(info.plugins || {});
        if (loaded.length < want.length) throw new Error(`Janus loaded ${loaded.join(',')} of ${want.join(',')}`);
        return { ...g, url, logFile, dir, info };
      }
    } catch (e) {
      if (/Janus loaded/.test(e.message)) {
        await g.stop();
        throw e;
      }
    }
    if (Date.now() > deadline) {
      await g.stop();
      throw new Error(`Janus did not answer within 15 s; see ${logFile}`);
    }
    await sleep(100);
  }
}

// The streaming plugin's configuration: one RTP video mountpoint, VP8 on
// payload type 96, with an RTCP port so that viewers' PLIs reach the encoder
// (Janus sends them to wherever the source's RTCP comes from).
export function streamingConfig({ id = 1, port, rtcpPort }) {
  return `general: {
}
bench: {
	type = "rtp"
	id = ${id}
	description = "bench relay of GStreamer vp8enc"
	audio = false
	video = true
	videoport = ${port}
	videortcpport = ${rtcpPort}
	videopt = 96
	videocodec = "vp8"
	videoiface = "127.0.0.1"
}
`;
}
