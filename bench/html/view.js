// SPDX-License-Identifier: GPL-3.0-or-later
//
// The benchmark's viewer page, for all three servers:
//   ?server=camera            janus.js, janus.plugin.camera: watch -> offer -> answer -> start
//   ?server=streaming&id=N    janus.js, janus.plugin.streaming: watch {id} -> offer -> answer -> start
//   ?server=aiortc&offer=URL  plain RTCPeerConnection: our offer -> POST URL -> answer
// Janus is reached at /janus on this origin (tools/serve.mjs proxies it).
//
// The benchmark (bench/lib/chromium.mjs) waits for window.bench.ready (session
// and handle set up: not part of the measured join), calls bench.start(), then
// reads bench.firstFrameMs: from sending `watch` (or creating the offer) to the
// first frame the <video> presents (requestVideoFrameCallback).  With
// bench.start({stamps: N}) the page also reads the test pattern's stamp from
// every presented frame (window.CameraStamp, html/stamp.js, injected by the
// benchmark) until it has N readings: "Date.now() at presentation - capture
// time in the stamp" is the glass-to-glass delay, on one clock.
(() => {
  'use strict';
  const params = new URLSearchParams(location.search);
  const kind = params.get('server') || 'camera';
  // Looked up when needed: this script runs from <head>, before the body.
  const $video = () => document.getElementById('video');

  const bench = {
    ready: false,
    error: null,
    t0: null,             // performance.now() at watch / createOffer
    marks: {},            // ms after t0: offer, answer, track, first frame
    firstFrameMs: null,
    delays: [],           // glass-to-glass, ms
    unreadable: 0,        // presented frames whose stamp did not read
    presented: 0,
    wantStamps: 0,
    stamps: [],           // frame counters read, to count distinct frames
  };
  window.bench = bench;
  const mark = (k) => { if (bench.t0 !== null && bench.marks[k] === undefined) bench.marks[k] = performance.now() - bench.t0; };
  const fail = (e) => { bench.error = bench.error || String(e && e.message ? e.message : e); };

  function onFrame(nowPerf) {
    // The moment this frame is handed to the compositor, on the wall clock.
    const now = Date.now();
    const video = $video();
    bench.presented++;
    if (bench.firstFrameMs === null) {
      bench.firstFrameMs = performance.now() - bench.t0;
      mark('frame');
    }
    if (bench.delays.length < bench.wantStamps && window.CameraStamp) {
      const s = window.CameraStamp.readCameraStamp(video);
      if (s) {
        bench.delays.push(window.CameraStamp.delayMs(s.timeMs, now));
        bench.stamps.push(s.counter);
      } else {
        bench.unreadable++;
      }
    }
    video.requestVideoFrameCallback(onFrame);
  }

  // Where a join's time goes: ICE connected, DTLS done (connectionState
  // "connected"), first RTP (the track unmutes), first frame.
  function watchPc(p) {
    if (!p || p.benchWatched) return;
    p.benchWatched = true;
    p.addEventListener('iceconnectionstatechange', () => mark(`ice-${p.iceConnectionState}`));
    p.addEventListener('connectionstatechange', () => mark(`pc-${p.connectionState}`));
  }

  function showTrack(track) {
    mark('track');
    track.addEventListener('unmute', () => mark('unmute'), { once: true });
    const video = $video();
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    video.requestVideoFrameCallback(onFrame);
  }

  // ---- Janus (camera and streaming) ---------------------------------------
  let janus = null;
  let handle = null;

  function setupJanus() {
    const plugin = kind === 'camera' ? 'janus.plugin.camera' : 'janus.plugin.streaming';
    Janus.init({
      debug: false,
      callback: () => {
        janus = new Janus({
          server: new URL('/janus', location.href).href,
          success: () => janus.attach({
            plugin,
            success: (h) => { handle = h; bench.ready = true; },
            error: fail,
            onmessage: (msg, jsep) => {
              if (msg.error_code || msg.error) fail(`plugin error ${msg.error_code}: ${msg.error}`);
              if (!jsep) return;
              mark('offer');
              handle.createAnswer({
                jsep,
                // Receive only; the data channel only where the offer has one.
                tracks: /m=application/.test(jsep.sdp) ? [{ type: 'data' }] : [],
                success: (ans) => {
                  mark('answer');
                  watchPc(handle.webrtcStuff.pc);
                  handle.send({ message: { request: 'start' }, jsep: ans, error: fail });
                },
                error: fail,
              });
            },
            onremotetrack: (track, mid, on) => { if (on && track.kind === 'video') showTrack(track); },
          }),
          error: fail,
        });
      },
    });
  }

  // ---- aiortc --------------------------------------------------------------
  let pc = null;
  let aiortcId = null;

  async function startAiortc() {
    pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    watchPc(pc);
    pc.ontrack = (e) => { if (e.track.kind === 'video') showTrack(e.track); };
    await pc.setLocalDescription(await pc.createOffer());
    // aiortc takes no trickle: send the offer once gathering is over
    // (host candidates only here: milliseconds), or after 2 s regardless.
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const t = setTimeout(resolve, 2000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
      });
    });
    mark('offer');
    const r = await fetch(params.get('offer'), {
      method: 'POST',
      // text/plain keeps it a CORS "simple" request: no preflight round trip.
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ type: pc.localDescription.type, sdp: pc.localDescription.sdp }),
    });
    if (!r.ok) throw new Error(`offer: HTTP ${r.status}`);
    const ans = await r.json();
    aiortcId = ans.id;
    mark('answer');
    await pc.setRemoteDescription({ type: ans.type, sdp: ans.sdp });
  }

  // For diagnosis: the page's PeerConnection, whichever kind.
  bench.pc = () => (handle && handle.webrtcStuff ? handle.webrtcStuff.pc : pc);

  bench.start = ({ stamps = 0 } = {}) => {
    bench.wantStamps = stamps;
    bench.t0 = performance.now();
    if (kind === 'aiortc') {
      startAiortc().catch(fail);
    } else {
      const body = kind === 'camera' ? { request: 'watch' } : { request: 'watch', id: Number(params.get('id') || 1) };
      handle.send({ message: body, error: fail });
    }
  };

  // Leaves cleanly, so that the server frees this viewer before the next.
  bench.stop = async () => {
    if (kind === 'aiortc') {
      if (pc) pc.close();
      if (aiortcId !== null) {
        const u = new URL(params.get('offer'));
        u.pathname = '/close';
        u.search = `?id=${aiortcId}`;
        await fetch(u, { method: 'POST' }).catch(() => {});
      }
    } else if (janus) {
      await new Promise((resolve) => janus.destroy({ cleanupHandles: true, success: resolve, error: resolve }));
    }
    return true;
  };

  if (kind === 'aiortc') bench.ready = true;
  else window.addEventListener('load', setupJanus);
})();
