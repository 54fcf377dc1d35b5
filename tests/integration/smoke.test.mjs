// SPDX-License-Identifier: GPL-3.0-or-later
//
// Harness smoke test: proves the test machinery works *without* our plugin,
// so that a failure in camera.test.mjs can be blamed on the plugin and not on
// the namespace, Janus, werift, ICE, DTLS, SRTP or SCTP.  It runs the stock
// Janus EchoTest plugin and a werift client that sends RTP and a data-channel
// message and gets both back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import { startJanus, ECHOTEST_SO } from './lib/janus.mjs';
import { Session } from './lib/api.mjs';
import { makePeerConnection, RtpCounter } from './lib/viewer.mjs';
import { inTestNamespace, waitFor, sleep, withTimeout } from './lib/util.mjs';

test('harness smoke: namespace + Janus EchoTest + werift ICE/DTLS/SRTP/SCTP', { timeout: 60000 }, async (t) => {
  assert.ok(inTestNamespace(), 'not inside the test namespace: run through tests/integration/run');
  assert.ok(fs.existsSync(ECHOTEST_SO), `no EchoTest plugin at ${ECHOTEST_SO}`);

  const janus = await startJanus({ plugins: [ECHOTEST_SO], name: 'smoke' });
  assert.ok(janus.pluginPackages.includes('janus.plugin.echotest'), `plugins loaded: ${janus.pluginPackages}`);

  const session = await Session.create(janus.url);
  const handle = await session.attach('janus.plugin.echotest');
  const pc = makePeerConnection();
  // One teardown, in order: client first (so its sockets close while Janus
  // can still answer), then Janus, whose verdict may fail the test.
  t.after(async () => {
    const t0 = performance.now();
    await withTimeout(pc.close(), 5000, 'pc.close').catch((e) => console.log(`# ${e.message}`));
    console.log(`# pc.close took ${(performance.now() - t0).toFixed(0)} ms`);
    await session.destroy();
    await janus.stopAndCheck();
  });

  // What comes back: RTP on the video track, text on the data channel.
  const echoed = new RtpCounter();
  pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => echoed.onRtp(rtp)));
  const sendTrack = new MediaStreamTrack({ kind: 'video' });
  pc.addTransceiver(sendTrack, { direction: 'sendrecv' });
  const dc = pc.createDataChannel('control');
  const received = [];
  dc.onMessage.subscribe((m) => received.push(typeof m === 'string' ? m : m.toString()));

  await pc.setLocalDescription(await pc.createOffer());
  const webrtcup = handle.nextEvent(() => true, { type: 'webrtcup', timeout: 15000 });
  const r = await handle.message({ audio: false, video: true, data: true }, {
    jsep: { type: 'offer', sdp: pc.localDescription.sdp },
    timeout: 15000,
  });
  assert.equal(r.data?.result, 'ok', `echotest answer: ${JSON.stringify(r.data)}`);
  assert.equal(r.jsep?.type, 'answer');
  await pc.setRemoteDescription(r.jsep);
  await waitFor(() => pc.connectionState === 'connected', { timeout: 15000, what: 'werift connected (ICE+DTLS)' });
  await webrtcup;

  // VP8-shaped RTP: a payload descriptor with S=1, PID=0 and a key-frame
  // payload header.  EchoTest relays it without decoding; the content does
  // not matter, only that SRTP both ways works.
  const pt = pc.getTransceivers()[0].codecs[0].payloadType;
  const ssrc = 0x1234abcd;
  for (let i = 0; i < 60; i++) {
    const header = new RtpHeader({ payloadType: pt, sequenceNumber: 1000 + i, timestamp: 3000 * i, ssrc, marker: true });
    const payload = Buffer.concat([Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a]), Buffer.alloc(100, i)]);
    sendTrack.writeRtp(new RtpPacket(header, payload));
    await sleep(10);
  }
  await waitFor(() => echoed.packets >= 30, { timeout: 10000, what: `echoed RTP (have ${echoed.packets})` });

  await waitFor(() => dc.readyState === 'open', { timeout: 10000, what: 'data channel open' });
  dc.send('hello from the harness');
  await waitFor(() => received.some((m) => m.includes('hello from the harness')), {
    timeout: 10000, what: `echoed data channel text (have ${JSON.stringify(received)})`,
  });
  console.log(`# smoke: echoed ${echoed.packets}/60 RTP packets, ${echoed.keyframes} key frames; data: ${JSON.stringify(received[0])}`);
  assert.ok(echoed.keyframes >= 1, 'the VP8 descriptor parser sees the key frames it was sent');
});
