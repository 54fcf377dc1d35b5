// scratch: find why a second demo tab sometimes never gets its offer
import { execFileSync } from 'node:child_process';
import { startJanus } from './lib/janus.mjs';
import { Session } from './lib/api.mjs';
import { startServer } from './lib/server.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { sleep, waitFor, withTimeout } from './lib/util.mjs';
for (let round = 0; round < 10; round++) {
  const j = await startJanus({ name: 'hang', set: { control_socket: '"/tmp/hang.sock"' } });
  const srv = await startServer({ janusUrl: j.url });
  const b = await launchBrowser();
  let stuck = false;
  try {
    const pages = [];
    for (let i = 0; i < 2; i++) {
      const p = await b.newPage();
      p.log = [];
      p.on('console', (m) => p.log.push(`${Date.now()} ${m.text()}`));
      await p.goto(srv.pageUrl + '?debug', { waitUntil: 'load' });
      pages.push(p);
    }
    for (const [i, p] of pages.entries()) {
      try {
        await waitFor(() => p.evaluate(() => window.cameraDemo.state === 'watching'), { timeout: 8000 });
      } catch {
        stuck = true;
        console.log(`round ${round}: page ${i} stuck`);
        const s = await Session.create(j.url);
        const h = await s.attach('janus.plugin.camera');
        const t0 = Date.now();
        const r = await h.message({ request: 'info' }, { timeout: 5000 }).then((x) => 'ok ' + JSON.stringify(x.data).slice(0, 100)).catch((e) => e.message);
        console.log('admin info:', r, Date.now() - t0, 'ms');
        console.log(p.log.filter((l) => /watch|message|Sending|error|Error/i.test(l)).slice(-30).join('\n'));
        try {
          console.log(execFileSync('gdb', ['-p', String(j.pid), '-batch', '-ex', 'thread apply all bt'], { maxBuffer: 1 << 24 }).toString().split('\n').filter((l) => /^Thread|^#/.test(l)).join('\n'));
        } catch (e) { console.log('gdb failed', e.message); }
      }
    }
  } finally {
    await b.close(); await srv.stop(); await j.stop();
  }
  if (stuck) break;
  console.log(`round ${round}: fine`);
}
