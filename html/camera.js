// SPDX-License-Identifier: GPL-3.0-or-later
//
// Demo viewer for janus.plugin.camera (api.md): watch -> offer from the
// plugin -> answer (receive only, plus the "control" data channel) -> start.
// Any loss (PeerConnection, handle, session, Janus itself) tears the whole
// attempt down and starts a new one with back-off, forever: a camera page
// is left open on a wall and must come back on its own.
//
// Query parameters: ?server=URL (default: /janus on this origin, which
// tools/serve.mjs proxies), ?pin=PIN, ?debug (janus.js logging).
//
// For tests, window.cameraDemo is a read-only view of what the page believes
// (state, viewer id, getStats figures, the decoded stamp); tests are expected
// to check it against the <video> themselves.
(() => {
  'use strict';

  const params = new URLSearchParams(location.search);
  const serverUrl = params.get('server') || new URL('/janus', location.href).href;
  const pin = params.get('pin');

  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 5000;
  const STATS_PERIOD_MS = 1000;
  const INFO_PERIOD_MS = 2000;
  // Chrome reports "disconnected" on short outages and recovers by itself;
  // only give up on the PeerConnection if it stays so for this long.
  const DISCONNECTED_GRACE_MS = 8000;
  // After this long of uninterrupted watching, a failure is a new incident
  // and retries start again at the shortest delay.
  const STABLE_MS = 10000;

  const $ = (id) => document.getElementById(id);
  const video = $('video');

  // ---- State (the single source for the UI and window.cameraDemo) --------

  const model = {
    state: 'connecting',       // connecting | watching | reconnecting | error
    error: null,               // last error message, null when none
    errorCode: null,           // last plugin error_code seen, if any
    viewerId: null,
    source: null,              // last `source` event: {state, error}
    info: null,                // last `info` answer
    stats: emptyStats(),
    stamp: { counter: null, timeMs: null, delayMs: null, at: null },
    reconnects: 0,             // attempts started after the first
    watchingSince: null,       // Date.now() when the state became watching
  };

  function emptyStats() {
    return { width: null, height: null, fps: null, bitrate: null, framesDecoded: null, at: null };
  }

  let attempt = null;          // the live connection attempt, or null
  let failures = 0;            // consecutive failed attempts, for back-off
  let retryTimer = null;

  // ---- Rendering ---------------------------------------------------------

  function setState(state, message) {
    model.state = state;
    if (message !== undefined) model.error = message;
    if (state === 'watching') model.watchingSince = Date.now();
    else model.watchingSince = null;
    render();
  }

  function fmt(v, unit = '', digits = 0) {
    return v === null || v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(digits)}${unit}`;
  }

  function render() {
    const st = $('state');
    st.textContent = model.state;
    st.dataset.state = model.state;
    $('viewer-id').textContent = model.viewerId ?? '–';
    $('message').textContent = model.error ? model.error : '';
    const src = model.source;
    const down = src && (src.error || src.state === 'error');
    $('source-warning').hidden = !down;
    $('source-warning').textContent = down ? `camera unavailable: ${src.error || src.state}` : '';
    $('keyframe').disabled = model.state !== 'watching';

    const s = model.stats;
    $('stat-size').textContent = s.width ? `${s.width}×${s.height}` : '–';
    $('stat-fps').textContent = fmt(s.fps, ' fps', 1);
    $('stat-bitrate').textContent = s.bitrate === null ? '–' : `${(s.bitrate / 1000).toFixed(0)} kbit/s`;
    $('stat-frames').textContent = s.framesDecoded ?? '–';
    $('stamp-counter').textContent = model.stamp.counter ?? '–';
    $('stamp-delay').textContent = fmt(model.stamp.delayMs, ' ms');

    const i = model.info;
    const so = i && i.source;
    $('info-source').textContent = so ? `${so.kind}${so.device ? ' ' + so.device : ''} (${so.state})` : '–';
    $('info-size').textContent = so ? `${so.width}×${so.height}` : '–';
    $('info-fps').textContent = so ? so.fps : '–';
    $('info-viewers').textContent = i ? `${i.viewers}${i.max_viewers ? ' / ' + i.max_viewers : ''}` : '–';
    $('info-frames').textContent = i && i.encoder ? `${i.encoder.frames} (${i.encoder.keyframes} key)` : '–';
  }

  // ---- Control panel hooks (filled in by the data-channel control issue) --
  //
  // Everything control-related goes through these; the rest of the page
  // only calls them.  sendControl() is the one way to talk on the channel.

  const CONTROL_LABEL = 'control';  // api.md, "Data channel"

  const control = {
    onWatching() {},                       // a new attempt reached `watching`
    onTeardown() {},                       // the attempt is gone (reset UI)
    onDataOpen(label) {},                  // the data channel opened
    onData(text, label) {},                // a telemetry / error frame arrived
    onController(id) {},                   // `controller` event
  };

  function sendControl(value) {
    const a = attempt;
    if (!a || !a.handle) return false;
    a.handle.data({ label: CONTROL_LABEL, text: JSON.stringify(value), error: (e) => showError(`data channel: ${describe(e)}`) });
    return true;
  }
  void sendControl;  // used by the control issue

  // ---- Connection lifecycle ----------------------------------------------

  // janus.js pastes error objects into its messages ("API call failed:
  // [object Object]"); keep only the readable part.
  function describe(e) {
    const text = e && e.message ? e.message : String(e);
    return text.replace(/:?\s*\[object Object\]/g, '').trim() || 'unknown error';
  }

  function isLive(a) {
    return a !== null && a === attempt;
  }

  function showError(message, code = null) {
    model.error = message;
    model.errorCode = code;
    render();
  }

  function connect() {
    retryTimer = null;
    const a = {
      janus: null,
      handle: null,
      started: false,        // plugin said `started`
      webrtcUp: false,       // Janus said the PeerConnection is up
      pc: null,
      timers: [],
      prevStats: null,
      disconnectedTimer: null,
      infoErrors: 0,
    };
    attempt = a;
    model.viewerId = null;
    render();

    a.janus = new Janus({
      server: serverUrl,
      iceServers: [],        // same network as the camera; works offline
      // Lost long polls surface as error(); without this, janus.js would
      // try to destroy the session on unload only.
      destroyOnUnload: true,
      success: () => isLive(a) && attach(a),
      error: (e) => fail(a, `Janus: ${describe(e)}`),
      destroyed: () => fail(a, 'Janus session destroyed'),
    });
  }

  function attach(a) {
    a.janus.attach({
      plugin: 'janus.plugin.camera',
      opaqueId: `camera-demo-${Janus.randomString(8)}`,
      success: (handle) => {
        if (!isLive(a)) return;
        a.handle = handle;
        const watch = { request: 'watch' };
        if (pin !== null) watch.pin = pin;
        handle.send({ message: watch, error: (e) => fail(a, `watch: ${describe(e)}`) });
        a.timers.push(setInterval(() => pollInfo(a), INFO_PERIOD_MS));
        a.timers.push(setInterval(() => pollStats(a), STATS_PERIOD_MS));
        pollInfo(a);
      },
      error: (e) => fail(a, `attach: ${describe(e)}`),
      onmessage: (msg, jsep) => isLive(a) && onMessage(a, msg, jsep),
      onremotetrack: (track, mid, on) => {
        if (!isLive(a) || track.kind !== 'video') return;
        if (on) {
          video.srcObject = new MediaStream([track]);
          video.play().catch(() => {});  // muted autoplay; a refusal is not fatal
        }
      },
      webrtcState: (up, reason) => {
        if (!isLive(a)) return;
        if (up) {
          a.webrtcUp = true;
          maybeWatching(a);
        } else {
          fail(a, `PeerConnection hung up${reason ? ': ' + reason : ''}`);
        }
      },
      iceState: (s) => isLive(a) && onIceState(a, s),
      ondataopen: (label) => isLive(a) && control.onDataOpen(label),
      ondata: (data, label) => isLive(a) && control.onData(data, label),
      oncleanup: () => isLive(a) && fail(a, 'PeerConnection closed'),
      ondetached: () => isLive(a) && fail(a, 'handle detached by Janus'),
    });
  }

  function onMessage(a, msg, jsep) {
    if (msg.error_code) {
      onPluginError(a, msg.error_code, msg.error);
      return;
    }
    const r = msg.result || {};
    if (r.status === 'preparing') {
      model.viewerId = r.id ?? null;
      render();
    } else if (r.status === 'started') {
      a.started = true;
      maybeWatching(a);
    } else if (r.status === 'stopped') {
      // This page never sends `stop`: the server ended the stream.
      fail(a, 'stopped by the server');
    } else if (r.event === 'kicked') {
      fail(a, 'kicked by an administrator');
    } else if (r.event === 'source') {
      model.source = { state: r.state ?? null, error: r.error ?? null };
      render();
    } else if (r.event === 'controller') {
      control.onController(r.controller ?? null);
    }
    if (jsep && jsep.type === 'offer') answer(a, jsep);
  }

  function onPluginError(a, code, reason) {
    const text = `error ${code}: ${reason || 'no reason given'}`;
    if (code === 488) model.source = { state: 'error', error: reason || 'source unavailable' };
    if (a.started) {
      // Asynchronous errors once streaming do not end the stream.
      showError(text, code);
    } else if (code === 486) {
      // Wrong or missing PIN: retrying cannot fix it, the URL must change.
      giveUp(a, text, code);
    } else {
      // watch/start refused (viewer limit, source down, ...): retry later.
      fail(a, text, code);
    }
  }

  function answer(a, jsep) {
    // The data channel label is the contract's; janus.js names the channel
    // it opens itself after this default.
    Janus.dataChanDefaultLabel = CONTROL_LABEL;
    a.handle.createAnswer({
      jsep,
      // Receive only: audio/video in the offer are accepted as recvonly and
      // nothing is captured (no getUserMedia prompt).  The data channel is
      // negotiated now so that control needs no renegotiation later.
      tracks: [{ type: 'data' }],
      success: (ans) => {
        if (!isLive(a)) return;
        a.pc = a.handle.webrtcStuff.pc;
        a.pc.addEventListener('connectionstatechange', () => {
          if (isLive(a) && a.pc.connectionState === 'failed') fail(a, 'PeerConnection failed');
        });
        a.handle.send({ message: { request: 'start' }, jsep: ans, error: (e) => fail(a, `start: ${describe(e)}`) });
      },
      error: (e) => fail(a, `createAnswer: ${describe(e)}`),
    });
  }

  function onIceState(a, s) {
    if (s === 'failed' || s === 'closed') {
      fail(a, `ICE ${s}`);
    } else if (s === 'disconnected') {
      if (!a.disconnectedTimer) {
        a.disconnectedTimer = setTimeout(() => fail(a, 'ICE disconnected for too long'), DISCONNECTED_GRACE_MS);
      }
    } else if (a.disconnectedTimer) {
      clearTimeout(a.disconnectedTimer);
      a.disconnectedTimer = null;
    }
  }

  function maybeWatching(a) {
    if (!a.started || !a.webrtcUp || model.state === 'watching') return;
    model.error = null;
    model.errorCode = null;
    setState('watching');
    control.onWatching();
  }

  // The `info` poll doubles as a session watchdog: after a Janus restart the
  // old session's long poll keeps answering "no such session" without
  // janus.js ever reporting it, but this request fails.
  function pollInfo(a) {
    if (!isLive(a) || !a.handle) return;
    a.handle.send({
      message: { request: 'info' },
      success: (r) => {
        if (!isLive(a)) return;
        a.infoErrors = 0;
        if (r && r.camera === 'info') {
          model.info = r;
          if (r.source) {
            const st = r.source.state;
            if (st === 'error') model.source = { state: st, error: r.source.error ?? null };
            else if (model.source && model.source.state === 'error') model.source = { state: st, error: null };
          }
          render();
        }
      },
      error: (e) => {
        if (!isLive(a)) return;
        a.infoErrors++;
        const gone = /^45[89]\b/.test(String(e));  // no such session / handle
        if (gone || a.infoErrors >= 2) fail(a, `lost Janus session: ${describe(e)}`);
      },
    });
  }

  async function pollStats(a) {
    const pc = a.pc;
    if (!pc) return;
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    if (!isLive(a)) return;
    let rtp = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind || s.mediaType) === 'video') rtp = s;
    });
    if (!rtp) return;
    const now = rtp.timestamp;
    const prev = a.prevStats;
    const stats = {
      width: rtp.frameWidth ?? null,
      height: rtp.frameHeight ?? null,
      fps: null,
      bitrate: null,
      framesDecoded: rtp.framesDecoded ?? null,
      at: Date.now(),
    };
    if (prev && now > prev.t) {
      const dt = (now - prev.t) / 1000;
      stats.fps = ((rtp.framesDecoded ?? 0) - prev.frames) / dt;
      stats.bitrate = ((rtp.bytesReceived ?? 0) - prev.bytes) * 8 / dt;
    }
    a.prevStats = { t: now, frames: rtp.framesDecoded ?? 0, bytes: rtp.bytesReceived ?? 0 };
    model.stats = stats;
    render();
  }

  // Reads the stamp once a second.  requestVideoFrameCallback runs when a
  // frame is handed to the compositor, so "now - stamp" is the delay up to
  // the moment it is shown, not up to whenever a timer happened to fire.
  let stampRequest = null;     // pending requestVideoFrameCallback id
  function pollStamp() {
    const a = attempt;
    if (!a || stampRequest !== null || !video.srcObject || typeof window.readCameraStamp !== 'function') return;
    const read = () => {
      stampRequest = null;
      if (!isLive(a)) return;
      const s = window.readCameraStamp(video);
      if (!s) {
        model.stamp = { counter: null, timeMs: null, delayMs: null, at: null };
      } else {
        model.stamp = { counter: s.counter, timeMs: s.timeMs, delayMs: window.CameraStamp.delayMs(s.timeMs), at: Date.now() };
      }
      render();
    };
    if (typeof video.requestVideoFrameCallback === 'function') {
      // A frozen picture presents no frame, so the stamp (and its `at`)
      // simply stops updating: tests can see a freeze from stamp.at.
      stampRequest = video.requestVideoFrameCallback(read);
    } else {
      read();
    }
  }

  function cancelStamp() {
    if (stampRequest !== null && typeof video.cancelVideoFrameCallback === 'function') {
      video.cancelVideoFrameCallback(stampRequest);
    }
    stampRequest = null;
  }

  function teardown(a) {
    for (const t of a.timers) clearInterval(t);
    clearTimeout(a.disconnectedTimer);
    cancelStamp();
    video.srcObject = null;   // never show a stale frame as live
    model.stats = emptyStats();
    model.stamp = { counter: null, timeMs: null, delayMs: null, at: null };
    control.onTeardown();
    try {
      const sid = a.janus.getSessionId();
      // Frees the viewer slot on the server if it is still there; the local
      // PeerConnection is closed either way (cleanupHandles).
      a.janus.destroy({ cleanupHandles: true, notifyDestroyed: false });
      // janus.js never forgets a session; a page that reconnects for days
      // would otherwise keep every dead one.
      if (sid) delete Janus.sessions[sid];
    } catch {
      // janus.js may throw on a half-built session; nothing left to free.
    }
  }

  function fail(a, message, code = null) {
    if (!isLive(a)) return;
    attempt = null;
    if (model.watchingSince && Date.now() - model.watchingSince > STABLE_MS) failures = 0;
    teardown(a);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** failures);
    failures++;
    model.errorCode = code;
    model.reconnects++;
    setState('reconnecting', `${message} — retrying in ${(delay / 1000).toFixed(1)} s`);
    retryTimer = setTimeout(connect, delay);
  }

  function giveUp(a, message, code) {
    if (!isLive(a)) return;
    attempt = null;
    teardown(a);
    model.errorCode = code;
    setState('error', message);
  }

  // ---- Buttons -----------------------------------------------------------

  $('keyframe').addEventListener('click', () => {
    const a = attempt;
    if (!a || !a.handle) return;
    a.handle.send({
      message: { request: 'keyframe' },
      success: (r) => { if (r && r.error_code) showError(`keyframe: error ${r.error_code}: ${r.error}`, r.error_code); },
      error: (e) => showError(`keyframe: ${describe(e)}`),
    });
  });

  // ---- Test hook ---------------------------------------------------------

  const copy = (o) => (o ? { ...o } : o);
  window.cameraDemo = Object.freeze({
    get state() { return model.state; },
    get error() { return model.error; },
    get errorCode() { return model.errorCode; },
    get viewerId() { return model.viewerId; },
    get stats() { return copy(model.stats); },
    get stamp() { return copy(model.stamp); },
    get info() { return model.info ? JSON.parse(JSON.stringify(model.info)) : null; },
    get source() { return copy(model.source); },
    get reconnects() { return model.reconnects; },
    get server() { return serverUrl; },
    get dataChannel() {
      const dc = attempt && attempt.handle && attempt.handle.webrtcStuff.dataChannel;
      return dc && dc[CONTROL_LABEL] ? dc[CONTROL_LABEL].readyState : null;
    },
    get pc() { return attempt && attempt.handle ? attempt.handle.webrtcStuff.pc : null; },
  });

  // ---- Start -------------------------------------------------------------

  setInterval(pollStamp, STATS_PERIOD_MS);
  render();
  if (typeof Janus === 'undefined') {
    setState('error', 'janus.js did not load');
    return;
  }
  Janus.init({
    debug: params.has('debug') ? 'all' : ['warn', 'error'],
    callback: () => {
      if (!Janus.isWebrtcSupported()) {
        setState('error', 'this browser has no WebRTC');
        return;
      }
      connect();
    },
  });
})();
