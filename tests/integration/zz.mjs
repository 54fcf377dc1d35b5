import { startJanus } from './lib/janus.mjs';
import { startServer } from './lib/server.mjs';
import { launchBrowser, inboundVideo, readStamp, waitDecoded } from './lib/browser.mjs';
import { sleep } from './lib/util.mjs';
const j = await startJanus({ name: 'explore' });
const srv = await startServer({ janusUrl: j.url });
const b = await launchBrowser();
try {
  const t0 = Date.now();
  const page = await b.newPage(srv.pageUrl);
  page.on('console', m => console.log('console', m.type(), m.text()));
  const st = await waitDecoded(page, { frames: 1, timeout: 20000 });
  console.log('first decoded after', Date.now() - t0, st);
  await sleep(2000);
  console.log(await inboundVideo(page));
  console.log(await readStamp(page), await readStamp(page));
  await sleep(300);
  console.log(await readStamp(page));
  console.log(await page.evaluate(() => ({ state: cameraDemo.state, stamp: cameraDemo.stamp, dc: cameraDemo.dataChannel })));
} finally {
  await b.close(); await srv.stop(); console.log(await j.stop());
}
