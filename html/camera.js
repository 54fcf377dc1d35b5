// SPDX-License-Identifier: GPL-3.0-or-later
//
// Demo viewer for janus.plugin.camera (api.md): watch -> offer from the
// plugin -> answer (receive only, plus the "control" data channel) -> start.
// Any loss (PeerConnection, handle, session, Janus itself) tears the whole
// attempt down and starts a new one with back-off, forever: a camera page
// is left open on a wall and must come back on its own.
//
// Where Janus is, in this order (README, "The demo page"): every ?server=URL
// (repeatable, or comma-separated) when given; else `servers` of an
// optional settings.js beside the page (window.cameraSettings); else the
// way Janus's own demos look: /janus on this origin (tools/serve.mjs proxies
// it), then this host's Janus transports on their default ports, matching
// the page's scheme (http: :8088/janus and ws://:8188; https: :8089/janus
// and wss://:8989).  Each candidate gets CONNECT_TIMEOUT_MS; a refused one
// costs only its refusal.  STUN/TURN: ?ice= (a comma-separated list of
// stun:/turn: URLs, or a JSON array of RTCIceServer), else settings.js's
// `iceServers`, else none.  Also ?pin=PIN, ?control_pin=PIN, ?debug
// (janus.js logging).
//
// On `pagehide` the page closes its PeerConnection (Janus sees the DTLS
// close at once) and destroys its Janus session (a beacon over HTTP, the
// WebSocket itself over WebSockets), so a closed tab frees its viewer slot
// at once whatever serves the page.
//
// For tests, window.cameraDemo is a read-only view of what the page believes
// (state, viewer id, getStats figures, the decoded stamp); tests are expected
// to check it against the <video> themselves.
(() => {
  'use strict';

  const params = new URLSearchParams(location.search);
  const pin = params.get('pin');
  const settings = window.cameraSettings && typeof window.cameraSettings === 'object' ? window.cameraSettings : {};
  const configErrors = [];     // readable reasons a setting was ignored

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

  // How long one Janus candidate may take to create a session before the
  // next one is tried (janus.js itself has no limit on that request).
  const CONNECT_TIMEOUT_MS = 3000;

  // ---- Where Janus is, and STUN/TURN -------------------------------------

  // A ?server= / settings URL: http(s) or ws(s), or a path on this origin.
  function serverUrl(text) {
    let u;
    try {
      u = new URL(text, location.href);
    } catch {
      throw new Error(`not a URL: ${text}`);
    }
    if (!/^(https?|wss?):$/.test(u.protocol)) throw new Error(`not an http(s):// or ws(s):// URL: ${text}`);
    // janus.js appends "/<session>" to HTTP URLs: no trailing slash.
    return u.href.replace(/\/+$/, '');
  }

  // What Janus's demos try: this origin's /janus, then this host's
  // transports on their default ports, matching http/https.
  function defaultServers() {
    const host = location.hostname;   // IPv6 keeps its brackets
    const secure = location.protocol === 'https:';
    const list = [
      new URL('/janus', location.href).href,
      secure ? `https://${host}:8089/janus` : `http://${host}:8088/janus`,
      secure ? `wss://${host}:8989` : `ws://${host}:8188`,
    ];
    return [...new Set(list)];
  }

  // Valid URLs of a list; each bad one is reported and left out.
  function validServers(list, from) {
    const out = [];
    for (const text of list) {
      try {
        out.push(serverUrl(text));
      } catch (e) {
        configErrors.push(`${from}: ${e.message}`);
      }
    }
    return out;
  }

  function chooseServers() {
    const given = params.getAll('server').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
    if (given.length) return validServers(given, '?server=');
    if (settings.servers !== undefined) {
      const list = typeof settings.servers === 'string' ? [settings.servers] : settings.servers;
      if (Array.isArray(list) && list.every((v) => typeof v === 'string')) {
        const ok = validServers(list, 'settings.js servers');
        if (ok.length) return ok;
      } else {
        configErrors.push('settings.js: servers must be a URL or an array of URLs');
      }
    }
    return defaultServers();
  }

  // One RTCIceServer, checked the way the browser will read it.
  function iceServer(v) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('each entry must be an object {"urls": ...}');
    const urls = typeof v.urls === 'string' ? [v.urls] : v.urls;
    if (!Array.isArray(urls) || !urls.length || !urls.every((u) => typeof u === 'string')) {
      throw new Error('"urls" must be a URL or an array of URLs');
    }
    for (const u of urls) {
      if (!/^(stun|stuns|turn|turns):[^\s]+$/i.test(u)) throw new Error(`not a stun:/stuns:/turn:/turns: URL: ${u}`);
      if (/^turns?:/i.test(u) && (typeof v.username !== 'string' || typeof v.credential !== 'string')) {
        throw new Error(`${u} needs "username" and "credential" (use the JSON form)`);
      }
    }
    for (const k of ['username', 'credential']) {
      if (v[k] !== undefined && typeof v[k] !== 'string') throw new Error(`"${k}" must be a string`);
    }
    const out = { urls: v.urls };
    if (v.username !== undefined) out.username = v.username;
    if (v.credential !== undefined) out.credential = v.credential;
    return out;
  }

  // ?ice= values: each a JSON array (or object) of RTCIceServer, or a
  // comma-separated list of stun:/turn: URLs.  Throws a readable Error.
  function parseIceParam(values) {
    const out = [];
    for (const raw of values) {
      const text = raw.trim();
      if (!text) continue;
      if (text[0] === '[' || text[0] === '{') {
        let v;
        try {
          v = JSON.parse(text);
        } catch (e) {
          throw new Error(`not valid JSON (${e.message})`);
        }
        for (const entry of Array.isArray(v) ? v : [v]) out.push(iceServer(entry));
      } else {
        for (const u of text.split(',').map((x) => x.trim()).filter(Boolean)) out.push(iceServer({ urls: u }));
      }
    }
    return out;
  }

  // The browser has the last word: a configuration it refuses would only
  // fail later, inside janus.js.
  function checkWithBrowser(list) {
    if (typeof RTCPeerConnection !== 'function' || !list.length) return list;
    try {
      new RTCPeerConnection({ iceServers: list }).close();
    } catch (e) {
      throw new Error(`the browser refuses it: ${e.message}`);
    }
    return list;
  }

  function chooseIceServers() {
    const given = params.getAll('ice');
    const from = given.length ? '?ice=' : 'settings.js iceServers';
    try {
      if (given.length) return checkWithBrowser(parseIceParam(given));
      if (settings.iceServers === undefined) return [];
      if (!Array.isArray(settings.iceServers)) throw new Error('must be an array of RTCIceServer');
      return checkWithBrowser(settings.iceServers.map(iceServer));
    } catch (e) {
      configErrors.push(`${from} ignored: ${e.message}`);
      return [];
    }
  }

  const servers = chooseServers();
  const iceServers = chooseIceServers();

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
    $('message').textContent = [...configErrors, model.error].filter(Boolean).join(' — ');
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
    renderControl();
  }

  // ---- Control (api.md: take_control / release_control, the `controller`
  // event, the "control" data channel) ---------------------------------------
  //
  // Everything control-related goes through the hooks in `control`; the rest
  // of the page only calls them.  sendControl() is the one way to talk on the
  // channel.  The server is the authority on who may drive: the page never
  // withholds a message because it believes it is not the controller, it
  // shows the 489 that comes back instead.
  //
  // Drive messages: {"type":"drive","x":X,"y":Y}, X and Y in -1..1, x to the
  // right, y forward (arrow up).  While an input is held the current vector
  // goes out at DRIVE_HZ (so the device's dead-man timer never fires while a
  // key is down), a change goes out at once (no added latency), and letting
  // go sends one {x:0,y:0}.

  const CONTROL_LABEL = 'control';  // api.md, "Data channel"
  const DRIVE_HZ = 10;
  const TELEMETRY_LOG = 8;          // lines kept in the telemetry log
  const GAMEPAD_DEADZONE = 0.15;
  const controlPin = params.get('control_pin');

  const ctl = {
    policy: null,              // info.control: none | single | open (null: not known yet)
    controller: null,          // viewer id holding control, or null
    telemetry: undefined,      // last telemetry value (undefined: none yet)
    log: [],                   // [{at, text, error}] newest last
    lastError: null,           // {code, error} of the last refused control action
    sentDrive: 0,              // drive messages handed to the channel
    channelOpen: false,
    busy: false,               // a take/release request is in flight
    epoch: 0,                  // see setController
  };

  // Held inputs.  Keys and on-screen buttons are direction sets; the gamepad
  // is an analogue vector that wins while it is off centre.
  const held = { keys: new Set(), buttons: new Set(), pad: { x: 0, y: 0 } };
  const DIRS = { up: [0, 1], down: [0, -1], left: [-1, 0], right: [1, 0] };
  const KEY_DIRS = { ArrowUp: 'up', ArrowDown: 'down', ArrowLeft: 'left', ArrowRight: 'right' };
  let driving = { x: 0, y: 0 };   // the vector last sent
  let driveTimer = null;

  function isController() {
    return model.viewerId !== null && ctl.controller !== null && ctl.controller === model.viewerId;
  }

  function canDrive() {
    return ctl.policy === 'open' || (ctl.policy === 'single' && isController());
  }

  // Every change learnt from an event or a take/release answer bumps the
  // epoch; an `info` answer that was asked for before such a change is
  // older news and must not undo it.
  function setController(id, fromInfoEpoch = null) {
    if (fromInfoEpoch !== null && fromInfoEpoch !== ctl.epoch) return;
    if (fromInfoEpoch === null) ctl.epoch++;
    const was = isController();
    ctl.controller = id ?? null;
    // Control taken away while a key is down: stop repeating into 489s.
    if (was && !isController()) clearHeld(false);
    renderControl();
  }

  function controlError(code, error) {
    ctl.lastError = { code, error: error || '' };
    pushLog(`error ${code}: ${error || ''}`, true);
  }

  function pushLog(text, error = false) {
    ctl.log.push({ at: new Date().toLocaleTimeString(), text, error });
    if (ctl.log.length > TELEMETRY_LOG) ctl.log.shift();
    renderControl();
  }

  function currentVector() {
    const p = held.pad;
    if (p.x !== 0 || p.y !== 0) return { x: p.x, y: p.y };
    let x = 0;
    let y = 0;
    for (const d of new Set([...held.keys, ...held.buttons])) {
      x += DIRS[d][0];
      y += DIRS[d][1];
    }
    return { x: Math.max(-1, Math.min(1, x)), y: Math.max(-1, Math.min(1, y)) };
  }

  function sendDrive(v) {
    if (sendControl({ type: 'drive', x: v.x, y: v.y })) ctl.sentDrive++;
  }

  // Called whenever an input changes: sends the new vector at once, then
  // keeps repeating it while it is non-zero.
  function driveChanged() {
    const v = currentVector();
    if (v.x === driving.x && v.y === driving.y) return;
    driving = v;
    clearInterval(driveTimer);
    driveTimer = null;
    sendDrive(v);
    if (v.x !== 0 || v.y !== 0) driveTimer = setInterval(() => sendDrive(driving), 1000 / DRIVE_HZ);
    renderControl();
  }

  // Forgets every held input; with `send`, tells the device to stop.
  function clearHeld(send = true) {
    held.keys.clear();
    held.buttons.clear();
    held.pad = { x: 0, y: 0 };
    clearInterval(driveTimer);
    driveTimer = null;
    const moving = driving.x !== 0 || driving.y !== 0;
    driving = { x: 0, y: 0 };
    if (send && moving) sendDrive(driving);
  }

  // Telemetry is the device's bare value; the plugin's refusals are objects
  // {"camera":"error","error_code":N,"error":"..."} on the same channel.
  function onChannelText(text) {
    let v;
    try {
      v = JSON.parse(text);
    } catch {
      pushLog(`(not JSON) ${text.slice(0, 200)}`, true);
      return;
    }
    // The plugin marks its own frames with "camera" (a key telemetry may
    // not use); anything else is the device's value, whatever its shape.
    if (v && typeof v === 'object' && !Array.isArray(v) && v.camera === 'error') {
      controlError(Number.isInteger(v.error_code) ? v.error_code : 0, String(v.error ?? ''));
      return;
    }
    ctl.telemetry = v;
    pushLog(JSON.stringify(v).slice(0, 200));
  }

  function requestControl(take) {
    const a = attempt;
    if (!a || !a.handle || ctl.busy) return;
    const message = { request: take ? 'take_control' : 'release_control' };
    if (take && controlPin !== null) message.pin = controlPin;
    ctl.busy = true;
    renderControl();
    const done = () => { ctl.busy = false; renderControl(); };
    a.handle.send({
      message,
      success: (r) => {
        if (!isLive(a)) return;
        if (r && r.error_code) controlError(r.error_code, r.error);
        else if (r && 'controller' in r) setController(r.controller);
        if (!take) clearHeld(true);
        done();
      },
      error: (e) => {
        if (!isLive(a)) return;
        controlError(0, describe(e));
        done();
      },
    });
  }

  function renderControl() {
    const panel = $('control-panel');
    const watching = model.state === 'watching';
    panel.hidden = !watching || ctl.policy === null || ctl.policy === 'none';
    if (panel.hidden) return;
    const me = isController();
    const holder = ctl.controller === null ? 'nobody' : me ? 'you' : `viewer ${ctl.controller}`;
    $('control-holder').textContent = ctl.policy === 'open' ? 'open to every viewer' : holder;
    $('control-holder').dataset.holder = ctl.controller === null ? 'none' : me ? 'me' : 'other';
    const take = $('control-take');
    take.hidden = ctl.policy !== 'single';
    take.textContent = me ? 'release control' : 'take control';
    take.disabled = ctl.busy;
    $('control-hint').textContent = canDrive() ? 'arrow keys, a gamepad or the buttons drive' :
      ctl.policy === 'single' ? 'take control to drive' : '';
    const d = driving;
    $('control-vector').textContent = `x ${d.x.toFixed(2)}, y ${d.y.toFixed(2)} · sent ${ctl.sentDrive}`;
    for (const [name] of Object.entries(DIRS)) {
      $(`drive-${name}`).classList.toggle('held', held.buttons.has(name) || held.keys.has(name));
    }
    $('control-error').textContent = ctl.lastError ? `error ${ctl.lastError.code}: ${ctl.lastError.error}` : '';
    $('telemetry').textContent = ctl.telemetry === undefined ? '–' : JSON.stringify(ctl.telemetry, null, 2);
    const log = $('telemetry-log');
    log.replaceChildren(...ctl.log.map((l) => {
      const li = document.createElement('li');
      li.textContent = `${l.at} ${l.text}`;
      if (l.error) li.className = 'error';
      return li;
    }));
  }

  const control = {
    onWatching() {
      renderControl();
    },
    onTeardown() {
      // The new attempt will be a new viewer: nothing held carries over.
      clearHeld(false);
      ctl.channelOpen = false;
      ctl.busy = false;
      ctl.controller = null;
      renderControl();
    },
    onDataOpen(label) {
      if (label === CONTROL_LABEL) ctl.channelOpen = true;
      renderControl();
    },
    onData(text, label) {
      if (label === undefined || label === CONTROL_LABEL) onChannelText(String(text));
    },
    onController(id) {
      setController(id);
    },
    infoEpoch() {
      return ctl.epoch;
    },
    onInfo(info, epoch) {
      ctl.policy = typeof info.control === 'string' ? info.control : 'single';
      if ('controller' in info) setController(info.controller, epoch);
      else renderControl();
    },
  };

  function sendControl(value) {
    const a = attempt;
    if (!a || !a.handle || !ctl.channelOpen) return false;
    a.handle.data({ label: CONTROL_LABEL, text: JSON.stringify(value), error: (e) => showError(`data channel: ${describe(e)}`) });
    return true;
  }

  // ---- Control inputs ------------------------------------------------------

  function typing(e) {
    const t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function controlsShown() {
    return !$('control-panel').hidden;
  }

  document.addEventListener('keydown', (e) => {
    const dir = KEY_DIRS[e.key];
    if (!dir || typing(e) || !controlsShown()) return;
    e.preventDefault();  // arrows would scroll the page
    if (e.repeat || held.keys.has(dir)) return;  // our own timer repeats
    held.keys.add(dir);
    driveChanged();
  });
  document.addEventListener('keyup', (e) => {
    const dir = KEY_DIRS[e.key];
    if (!dir || !held.keys.has(dir)) return;
    e.preventDefault();
    held.keys.delete(dir);
    driveChanged();
  });
  // A key released while the window had no focus never sends keyup: stop
  // rather than drive on forever.
  window.addEventListener('blur', () => clearHeld(true));

  for (const name of Object.keys(DIRS)) {
    const b = $(`drive-${name}`);
    const release = () => {
      if (!held.buttons.delete(name)) return;
      driveChanged();
    };
    b.addEventListener('pointerdown', (e) => {
      b.setPointerCapture(e.pointerId);
      held.buttons.add(name);
      driveChanged();
    });
    b.addEventListener('pointerup', release);
    b.addEventListener('pointercancel', release);
    b.addEventListener('lostpointercapture', release);
    // Keyboard users: Enter/Space "click" a direction for one short pulse.
    b.addEventListener('click', (e) => {
      if (e.detail !== 0) return;  // a real pointer click is handled above
      sendDrive({ x: DIRS[name][0], y: DIRS[name][1] });
      sendDrive({ x: 0, y: 0 });
    });
  }
  $('drive-stop').addEventListener('click', () => {
    clearHeld(false);
    sendDrive({ x: 0, y: 0 });
    renderControl();
  });
  $('control-take').addEventListener('click', () => requestControl(!isController()));

  // Gamepad: polled once per animation frame while one is connected (the
  // API has no input events).  Left stick, or the d-pad (buttons 12-15).
  let padLoop = null;
  function pollGamepad() {
    padLoop = null;
    const pads = typeof navigator.getGamepads === 'function' ? [...navigator.getGamepads()].filter(Boolean) : [];
    if (!pads.length) {
      if (held.pad.x !== 0 || held.pad.y !== 0) {
        held.pad = { x: 0, y: 0 };
        driveChanged();
      }
      return;
    }
    const gp = pads[0];
    const axis = (v) => (Math.abs(v || 0) < GAMEPAD_DEADZONE ? 0 : Math.round(Math.max(-1, Math.min(1, v)) * 20) / 20);
    let x = axis(gp.axes[0]);
    let y = -axis(gp.axes[1]);  // stick up is -1
    const pressed = (i) => !!(gp.buttons[i] && gp.buttons[i].pressed);
    if (x === 0 && y === 0) {
      x = (pressed(15) ? 1 : 0) - (pressed(14) ? 1 : 0);
      y = (pressed(12) ? 1 : 0) - (pressed(13) ? 1 : 0);
    }
    if (!controlsShown()) x = y = 0;
    if (x !== held.pad.x || y !== held.pad.y) {
      held.pad = { x: x || 0, y: y || 0 };
      driveChanged();
    }
    padLoop = requestAnimationFrame(pollGamepad);
  }
  window.addEventListener('gamepadconnected', () => { if (padLoop === null) padLoop = requestAnimationFrame(pollGamepad); });
  window.addEventListener('gamepaddisconnected', () => { if (padLoop === null) pollGamepad(); });

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
      janus: null,           // the janus.js session in use, once one answered
      server: null,          // its URL
      tried: [],             // candidates that failed, with why
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
    if (!servers.length) {
      giveUp(a, 'no Janus server to try: fix ?server= or settings.js');
      return;
    }
    tryServer(a, 0);
  }

  // A session of a candidate we no longer want (it answered too late).
  function discard(j) {
    try {
      const sid = j.getSessionId();
      j.destroy({ cleanupHandles: true, notifyDestroyed: false });
      if (sid) delete Janus.sessions[sid];
    } catch {
      // half-built: nothing to free
    }
  }

  // Tries servers[i], then the next one as soon as it fails or stays
  // silent for CONNECT_TIMEOUT_MS; the first that creates a session wins.
  function tryServer(a, i) {
    if (!isLive(a)) return;
    if (i >= servers.length) {
      fail(a, `no Janus answered (tried ${a.tried.join('; ')})`);
      return;
    }
    const url = servers[i];
    let j = null;
    let settled = false;
    const next = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      a.tried.push(`${url}: ${why}`);
      if (j) discard(j);
      tryServer(a, i + 1);
    };
    const timer = setTimeout(() => next('no answer'), CONNECT_TIMEOUT_MS);
    try {
      j = new Janus({
        server: url,
        iceServers,
        // The page leaves on `pagehide` itself (leavePage).
        destroyOnUnload: false,
        success: () => {
          if (settled || !isLive(a)) {
            discard(j);
            return;
          }
          settled = true;
          clearTimeout(timer);
          a.janus = j;
          a.server = url;
          attach(a);
        },
        error: (e) => {
          if (a.janus === j) fail(a, `Janus: ${describe(e)}`);
          else if (isLive(a)) next(describe(e));
        },
        destroyed: () => a.janus === j && fail(a, 'Janus session destroyed'),
      });
    } catch (e) {
      next(describe(e));
    }
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
    const epoch = control.infoEpoch();
    a.handle.send({
      message: { request: 'info' },
      success: (r) => {
        if (!isLive(a)) return;
        a.infoErrors = 0;
        if (r && r.camera === 'info') {
          model.info = r;
          control.onInfo(r, epoch);
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

  // Frees what attempt `a` holds, here and on the server.  While the page
  // unloads, requests in flight may be cancelled: janus.js's `unload` path
  // sends the HTTP `destroy` as a beacon instead; over WebSockets the
  // `destroy` goes on the open socket (and its close alone would do, as
  // Janus drops a transport's sessions when it goes).
  function teardown(a, unloading = false) {
    for (const t of a.timers) clearInterval(t);
    clearTimeout(a.disconnectedTimer);
    cancelStamp();
    video.srcObject = null;   // never show a stale frame as live
    model.stats = emptyStats();
    model.stamp = { counter: null, timeMs: null, delayMs: null, at: null };
    control.onTeardown();
    if (!a.janus) return;
    try {
      // First the PeerConnection: Janus sees the DTLS close at once, even
      // if the signalling below never arrives.
      const pc = a.handle && a.handle.webrtcStuff.pc;
      if (pc) pc.close();
    } catch {
      // already closed
    }
    try {
      const sid = a.janus.getSessionId();
      const beacon = unloading && !/^wss?:/.test(a.server);
      // Frees the viewer slot on the server if it is still there; the local
      // PeerConnection is closed either way (cleanupHandles).
      a.janus.destroy({ cleanupHandles: true, notifyDestroyed: false, unload: beacon });
      // janus.js never forgets a session; a page that reconnects for days
      // would otherwise keep every dead one.
      if (sid) delete Janus.sessions[sid];
    } catch {
      // janus.js may throw on a half-built session; nothing left to free.
    }
  }

  // The page goes away (closed, reloaded, navigated, or put into the
  // back/forward cache): leave now rather than at Janus's session timeout.
  function leavePage() {
    clearTimeout(retryTimer);
    retryTimer = null;
    const a = attempt;
    attempt = null;
    if (a) teardown(a, true);
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
    get server() { return attempt ? attempt.server : null; },
    get servers() { return [...servers]; },
    get tried() { return attempt ? [...attempt.tried] : []; },
    get iceServers() { return JSON.parse(JSON.stringify(iceServers)); },
    get configErrors() { return [...configErrors]; },
    get dataChannel() {
      const dc = attempt && attempt.handle && attempt.handle.webrtcStuff.dataChannel;
      return dc && dc[CONTROL_LABEL] ? dc[CONTROL_LABEL].readyState : null;
    },
    get pc() { return attempt && attempt.handle ? attempt.handle.webrtcStuff.pc : null; },
    get control() { return ctl.policy; },
    get controller() { return ctl.controller; },
    get isController() { return isController(); },
    get telemetry() { return ctl.telemetry === undefined ? undefined : JSON.parse(JSON.stringify(ctl.telemetry)); },
    get telemetryLog() { return ctl.log.map((l) => l.text); },
    get lastControlError() { return copy(ctl.lastError); },
    get sentDrive() { return ctl.sentDrive; },
    get controllerText() { return $('control-holder').textContent; },
  });

  // ---- Start -------------------------------------------------------------

  setInterval(pollStamp, STATS_PERIOD_MS);
  window.addEventListener('pagehide', leavePage);
  // Back from the back/forward cache: watch again.
  window.addEventListener('pageshow', (e) => {
    if (!e.persisted || attempt !== null || retryTimer !== null || model.state === 'error') return;
    setState('connecting', null);
    connect();
  });
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
