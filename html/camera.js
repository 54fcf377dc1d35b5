// SPDX-License-Identifier: GPL-3.0-or-later
//
// Demo viewer for janus.plugin.camera (api.md): cameras -> watch -> offer
// from the plugin -> answer (receive only, plus the "control" data channel)
// -> start, once per shown camera, each on its own Janus session and handle
// ("Cameras and views" below).  Any loss (PeerConnection, handle, session,
// Janus itself) tears that camera's attempt down and starts a new one with
// back-off, forever: a camera page is left open on a wall and must come
// back on its own.  The other cameras' views are not touched.
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
// `iceServers`, else none.  Also ?camera=ID (repeatable: which cameras to
// show, side by side; `*`: all), ?pin=PIN (every camera's; a camera whose `cameras`
// entry says `pin: true` also gets a PIN field), ?control_pin=PIN, ?debug
// (janus.js logging).
//
// On `pagehide` the page closes its PeerConnection (Janus sees the DTLS
// close at once) and destroys its Janus session (a beacon over HTTP, the
// WebSocket itself over WebSockets), so a closed tab frees its viewer slot
// at once whatever serves the page.
//
// For tests, window.cameraDemo is a read-only view of what the page believes
// (state, viewer id, getStats figures, the decoded stamp) of its first
// (control) camera, and cameraDemo.view(ID) the same for each shown camera;
// tests are expected to check it against the <video>s themselves (each has
// data-camera=ID once the camera is known).
(() => {
  'use strict';

  const params = new URLSearchParams(location.search);
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

  // ---- Cameras and views -------------------------------------------------
  //
  // The plugin may have several cameras (`cameras` request).  Each camera the
  // page shows is a "view": its own <section> (from #view-template), its own
  // <video>, its own Janus session and handle watching that camera, its own
  // state, stats, stamp and reconnect with back-off.  A view failing (its
  // PeerConnection, handle or session lost, its camera's source down) tears
  // down and retries that view only; the others go on untouched.
  //
  // Control (take_control, the "control" data channel, the drive pad) is one
  // per page, as it is one per plugin (the device is the robot): it goes
  // through the first shown view's handle (views[0]); when that view
  // reconnects, control is lost and must be taken again, as today.
  //
  // Which cameras: every ?camera=ID (repeatable, or comma-separated), else
  // the first camera of `cameras`; the picker (shown when there is more than
  // one camera) changes the selection, one camera or all side by side, and
  // writes it back into the URL.  A plugin without `cameras` (before issue 9)
  // has one camera: the page watches it without naming it.
  const PIN_CAMERA = params.get('pin');   // default PIN of every camera
  const ALL = '*';                        // picker value: all side by side

  const page = {
    cameras: null,             // last `cameras` answer's list, null: not known yet
    legacy: false,             // the plugin has no `cameras` request (one camera)
    views: [],                 // the shown views, in order; views[0] holds control
    wanted: params.getAll('camera').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean),
    chosen: false,             // the selection was made from a `cameras` list
  };

  function emptyStats() {
    return { width: null, height: null, fps: null, bitrate: null, framesDecoded: null, at: null };
  }
  const emptyStamp = () => ({ counter: null, timeMs: null, delayMs: null, at: null });

  function cameraEntry(id) {
    return (page.cameras || []).find((c) => c.id === id) || null;
  }

  // A new view for camera `id` (null: the plugin's default camera, or not
  // known yet), appended to #views.
  function createView(id) {
    const el = $('view-template').content.firstElementChild.cloneNode(true);
    const f = {};
    for (const n of el.querySelectorAll('[data-f]')) f[n.dataset.f] = n;
    const v = {
      camera: id,
      el,
      f,
      video: f.video,
      closed: false,
      pin: PIN_CAMERA,          // what `watch` and `snapshot` send
      needPin: false,           // a 486 said this camera wants one
      attempt: null,            // the live connection attempt, or null
      failures: 0,              // consecutive failed attempts, for back-off
      retryTimer: null,
      stampRequest: null,       // pending requestVideoFrameCallback id
      snapshotUrl: null,        // object URL of the JPEG shown
      snapshotBusy: false,
      model: {
        state: 'connecting',    // connecting | watching | reconnecting | error
        error: null,            // last error message, null when none
        errorCode: null,        // last plugin error_code seen, if any
        viewerId: null,
        source: null,           // last `source` event: {state, error}
        info: null,             // last `info` answer
        stats: emptyStats(),
        stamp: emptyStamp(),
        reconnects: 0,          // attempts started after the first
        watchingSince: null,    // Date.now() when the state became watching
        snapshot: null,         // last snapshot {width, height, bytes, captured, at} or {error, code}
      },
    };
    setCameraAttr(v);
    f.keyframe.addEventListener('click', () => keyframe(v));
    f.snapshot.addEventListener('click', () => snapshot(v));
    f['pin-form'].addEventListener('submit', (e) => {
      e.preventDefault();
      v.pin = f.pin.value === '' ? null : f.pin.value;
      // A view that gave up (wrong PIN) or waits to retry starts again now.
      if (v.model.state === 'error' || v.model.state === 'reconnecting') restart(v);
    });
    if (v.pin !== null) f.pin.value = v.pin;
    $('views').append(el);
    return v;
  }

  function setCameraAttr(v) {
    if (v.camera === null) {
      delete v.el.dataset.camera;
      delete v.video.dataset.camera;
    } else {
      v.el.dataset.camera = v.camera;
      v.video.dataset.camera = v.camera;
    }
  }

  const isControl = (v) => page.views[0] === v;
  const controlView = () => page.views[0] || null;
  const controlAttempt = () => (controlView() ? controlView().attempt : null);
  const controlModel = () => controlView().model;

  // The `cameras` answer of any view.  The first one decides what is shown.
  function onCameras(list, v) {
    page.cameras = list;
    if (!page.chosen) {
      page.chosen = true;
      const ids = new Set(list.map((c) => c.id));
      const unknown = page.wanted.filter((id) => !ids.has(id) && id !== ALL);
      if (unknown.length) configErrors.push(`?camera=: no camera ${unknown.map((x) => `'${x}'`).join(', ')}`);
      let sel = page.wanted.includes(ALL) ? [...ids] : [...new Set(page.wanted.filter((id) => ids.has(id)))];
      if (!sel.length && list.length) sel = [list[0].id];
      // The view that asked becomes the first selected camera's.
      if (v.camera === null || !sel.includes(v.camera)) {
        v.camera = sel[0] ?? null;
        setCameraAttr(v);
      }
      if (sel.length) setSelection(sel, { keep: v, writeUrl: false });
    }
    renderPage();
  }

  // Shows exactly the cameras `ids`, in that order: views of cameras still
  // wanted stay as they are (no reconnect), the others are closed, missing
  // ones are created and connect.
  function setSelection(ids, { keep = null, writeUrl = true } = {}) {
    const oldControl = controlView();
    const byCamera = new Map(page.views.map((v) => [v.camera, v]));
    const next = [];
    for (const id of ids) {
      let v = byCamera.get(id);
      if (v) byCamera.delete(id);
      else {
        v = createView(id);
        connect(v);
      }
      next.push(v);
    }
    for (const v of byCamera.values()) if (v !== keep) closeView(v);
    page.views = next;
    for (const v of next) $('views').append(v.el);  // in selection order
    if (controlView() !== oldControl) controlSwitched();
    if (writeUrl) {
      const q = new URLSearchParams(location.search);
      q.delete('camera');
      for (const id of ids) q.append('camera', id);
      history.replaceState(null, '', `${location.pathname}?${q}`);
    }
    renderPage();
  }

  function closeView(v) {
    v.closed = true;
    clearTimeout(v.retryTimer);
    v.retryTimer = null;
    const a = v.attempt;
    v.attempt = null;
    if (a) teardown(a);
    if (v.snapshotUrl) URL.revokeObjectURL(v.snapshotUrl);
    v.el.remove();
  }

  // ---- Rendering ---------------------------------------------------------

  function setState(v, state, message) {
    const m = v.model;
    m.state = state;
    if (message !== undefined) m.error = message;
    if (state === 'watching') m.watchingSince = Date.now();
    else m.watchingSince = null;
    render(v);
  }

  function fmt(v, unit = '', digits = 0) {
    return v === null || v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(digits)}${unit}`;
  }

  const multi = () => !!page.cameras && page.cameras.length > 1;

  // The page-wide parts: picker, message line, layout.
  function renderPage() {
    const list = page.cameras || [];
    const picker = $('camera-picker');
    $('picker-row').hidden = !multi();
    document.body.classList.toggle('multi', page.views.length > 1);
    if (multi()) {
      const shown = page.views.map((v) => v.camera);
      const opts = list.map((c) => [c.id, c.description ? `${c.description} (${c.id})` : c.id]);
      opts.push([ALL, 'all side by side']);
      const exact = shown.length === 1 ? shown[0] : shown.length === list.length ? ALL : shown.join(',');
      if (!opts.some(([val]) => val === exact)) opts.push([exact, shown.join(' + ')]);
      const sig = JSON.stringify([opts, exact]);
      if (picker.dataset.sig !== sig) {
        picker.dataset.sig = sig;
        picker.replaceChildren(...opts.map(([val, text]) => new Option(text, val, false, val === exact)));
      }
    }
    // One view: its errors on the page's message line, as before cameras;
    // several: each view shows its own.
    const one = page.views.length === 1 ? page.views[0].model.error : null;
    $('message').textContent = [...configErrors, one].filter(Boolean).join(' — ');
    renderControl();
  }

  function render(v) {
    const m = v.model;
    const f = v.f;
    const cam = cameraEntry(v.camera);
    f.title.hidden = !multi();
    f.title.textContent = cam ? (cam.description || cam.id) : (v.camera ?? '');
    f.state.textContent = m.state;
    f.state.dataset.state = m.state;
    f['viewer-id'].textContent = m.viewerId ?? '–';
    f.message.textContent = page.views.length > 1 ? (m.error ?? '') : '';
    const src = m.source;
    const down = src && (src.error || src.state === 'error');
    f['source-warning'].hidden = !down;
    f['source-warning'].textContent = down ? `camera unavailable: ${src.error || src.state}` : '';
    f.keyframe.disabled = m.state !== 'watching';
    f['pin-form'].hidden = !((cam && cam.pin) || v.needPin);
    // Snapshots need a plugin that has them (it answered `cameras`).
    f.snapshot.hidden = page.legacy || !page.cameras;
    f.snapshot.disabled = v.snapshotBusy || !(v.attempt && v.attempt.handle);

    const s = m.stats;
    f['stat-size'].textContent = s.width ? `${s.width}×${s.height}` : '–';
    f['stat-fps'].textContent = fmt(s.fps, ' fps', 1);
    f['stat-bitrate'].textContent = s.bitrate === null ? '–' : `${(s.bitrate / 1000).toFixed(0)} kbit/s`;
    f['stat-frames'].textContent = s.framesDecoded ?? '–';
    f['stamp-counter'].textContent = m.stamp.counter ?? '–';
    f['stamp-delay'].textContent = fmt(m.stamp.delayMs, ' ms');

    const i = m.info;
    const so = i && i.source;
    f['info-source'].textContent = so ? `${so.kind}${so.device ? ' ' + so.device : ''} (${so.state})` : '–';
    f['info-size'].textContent = so ? `${so.width}×${so.height}` : '–';
    f['info-fps'].textContent = so ? so.fps : '–';
    f['info-viewers'].textContent = i ? `${i.viewers}${i.max_viewers ? ' / ' + i.max_viewers : ''}` : '–';
    f['info-frames'].textContent = i && i.encoder ? `${i.encoder.frames} (${i.encoder.keyframes} key)` : '–';

    const snap = m.snapshot;
    f['snapshot-box'].hidden = !v.snapshotUrl;
    f['snapshot-error'].hidden = !(snap && snap.error);
    f['snapshot-error'].textContent = snap && snap.error ? `snapshot: ${snap.error}` : '';
    if (snap && !snap.error) {
      const age = snap.at - snap.captured;
      f['snapshot-info'].textContent = `${snap.width}×${snap.height}, ${(snap.bytes / 1024).toFixed(1)} KiB, ` +
        `captured ${new Date(snap.captured).toLocaleTimeString()} (${age} ms before it arrived)`;
    }
    if (v === controlView() || page.views.length === 1) renderPage();
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
    const m = controlView() ? controlModel() : { viewerId: null };
    return m.viewerId !== null && ctl.controller !== null && ctl.controller === m.viewerId;
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
    const a = controlAttempt();
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
    const watching = !!controlView() && controlModel().state === 'watching';
    panel.hidden = !watching || ctl.policy === null || ctl.policy === 'none';
    if (panel.hidden) return;
    // Several cameras shown: control goes through the first one's viewer.
    const via = $('control-via');
    via.hidden = page.views.length < 2;
    via.textContent = via.hidden ? '' : `(as the viewer of ${controlView().camera})`;
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
    const a = controlAttempt();
    if (!a || !a.handle || !ctl.channelOpen) return false;
    a.handle.data({ label: CONTROL_LABEL, text: JSON.stringify(value), error: (e) => showError(a.view, `data channel: ${describe(e)}`) });
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

  // ---- Connection lifecycle (per view) ----------------------------------

  // janus.js pastes error objects into its messages ("API call failed:
  // [object Object]"); keep only the readable part.
  function describe(e) {
    const text = e && e.message ? e.message : String(e);
    return text.replace(/:?\s*\[object Object\]/g, '').trim() || 'unknown error';
  }

  function isLive(a) {
    return a !== null && !a.view.closed && a === a.view.attempt;
  }

  function showError(v, message, code = null) {
    v.model.error = message;
    v.model.errorCode = code;
    render(v);
  }

  // Fields naming the view's camera, for camera-bound requests.
  const withCamera = (v, body) => (v.camera === null ? body : { ...body, camera: v.camera });

  function connect(v) {
    v.retryTimer = null;
    if (v.closed) return;
    const a = {
      view: v,
      janus: null,           // the janus.js session in use, once one answered
      server: null,          // its URL
      tried: [],             // candidates that failed, with why
      handle: null,
      started: false,        // plugin said `started`
      webrtcUp: false,       // Janus said the PeerConnection is up
      channelOpen: false,    // the "control" data channel is open
      pc: null,
      timers: [],
      prevStats: null,
      disconnectedTimer: null,
      infoErrors: 0,
    };
    v.attempt = a;
    v.model.viewerId = null;
    render(v);
    if (!servers.length) {
      giveUp(a, 'no Janus server to try: fix ?server= or settings.js');
      return;
    }
    tryServer(a, 0);
  }

  // Starts view `v` again now, with the shortest back-off.
  function restart(v) {
    clearTimeout(v.retryTimer);
    v.retryTimer = null;
    const a = v.attempt;
    v.attempt = null;
    if (a) teardown(a);
    v.failures = 0;
    setState(v, 'connecting', null);
    connect(v);
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
    const v = a.view;
    a.janus.attach({
      plugin: 'janus.plugin.camera',
      opaqueId: `camera-demo-${Janus.randomString(8)}`,
      success: (handle) => {
        if (!isLive(a)) return;
        a.handle = handle;
        render(v);
        askCameras(a);
      },
      error: (e) => fail(a, `attach: ${describe(e)}`),
      onmessage: (msg, jsep) => isLive(a) && onMessage(a, msg, jsep),
      onremotetrack: (track, mid, on) => {
        if (!isLive(a) || track.kind !== 'video') return;
        if (on) {
          v.video.srcObject = new MediaStream([track]);
          v.video.play().catch(() => {});  // muted autoplay; a refusal is not fatal
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
      ondataopen: (label) => {
        if (!isLive(a)) return;
        if (label === CONTROL_LABEL) a.channelOpen = true;
        if (isControl(v)) control.onDataOpen(label);
      },
      ondata: (data, label) => isLive(a) && isControl(v) && control.onData(data, label),
      oncleanup: () => isLive(a) && fail(a, 'PeerConnection closed'),
      ondetached: () => isLive(a) && fail(a, 'handle detached by Janus'),
    });
  }

  // On every connect: what cameras there are (the first answer decides
  // what the page shows), then `watch`.  A plugin that does not know the
  // request (482) has one camera.
  function askCameras(a) {
    const v = a.view;
    if (page.legacy) {
      watch(a);
      return;
    }
    a.handle.send({
      message: { request: 'cameras' },
      success: (r) => {
        if (!isLive(a)) return;
        if (r && r.camera === 'cameras' && Array.isArray(r.cameras)) {
          onCameras(r.cameras, v);
        } else if (r && r.error_code === 482) {
          page.legacy = true;
          if (page.wanted.length) configErrors.push('?camera= ignored: this plugin has one camera');
          renderPage();
        } else if (r && r.error_code) {
          fail(a, `cameras: error ${r.error_code}: ${r.error || ''}`, r.error_code);
          return;
        }
        watch(a);
      },
      error: (e) => fail(a, `cameras: ${describe(e)}`),
    });
  }

  function watch(a) {
    const v = a.view;
    const body = withCamera(v, { request: 'watch' });
    if (v.pin !== null) body.pin = v.pin;
    a.handle.send({ message: body, success: (r) => syncError(a, r), error: (e) => fail(a, `watch: ${describe(e)}`) });
    a.timers.push(setInterval(() => pollInfo(a), INFO_PERIOD_MS));
    a.timers.push(setInterval(() => pollStats(a), STATS_PERIOD_MS));
    pollInfo(a);
    render(v);
  }

  function onMessage(a, msg, jsep) {
    const v = a.view;
    if (msg.error_code) {
      onPluginError(a, msg.error_code, msg.error);
      return;
    }
    const r = msg.result || {};
    if (r.status === 'preparing') {
      v.model.viewerId = r.id ?? null;
      render(v);
    } else if (r.status === 'started') {
      a.started = true;
      maybeWatching(a);
    } else if (r.status === 'stopped') {
      // This page never sends `stop`: the server ended the stream.
      fail(a, 'stopped by the server');
    } else if (r.event === 'kicked') {
      fail(a, 'kicked by an administrator');
    } else if (r.event === 'source') {
      v.model.source = { state: r.state ?? null, error: r.error ?? null };
      render(v);
    } else if (r.event === 'controller') {
      if (isControl(v)) control.onController(r.controller ?? null);
    }
    if (jsep && jsep.type === 'offer') answer(a, jsep);
  }

  // A refusal may come as the request's own (synchronous) answer as well as
  // an event: both go the same way.
  function syncError(a, r) {
    if (isLive(a) && r && r.error_code) onPluginError(a, r.error_code, r.error);
  }

  function onPluginError(a, code, reason) {
    const v = a.view;
    const text = `error ${code}: ${reason || 'no reason given'}`;
    if (code === 488) v.model.source = { state: 'error', error: reason || 'source unavailable' };
    if (a.started) {
      // Asynchronous errors once streaming do not end the stream.
      showError(v, text, code);
    } else if (code === 486) {
      // Wrong or missing PIN: retrying cannot fix it; a new PIN (the field,
      // or the URL) can.
      v.needPin = true;
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
        a.handle.send({ message: { request: 'start' }, jsep: ans, success: (r) => syncError(a, r), error: (e) => fail(a, `start: ${describe(e)}`) });
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
    const v = a.view;
    if (!a.started || !a.webrtcUp || v.model.state === 'watching') return;
    v.model.error = null;
    v.model.errorCode = null;
    setState(v, 'watching');
    if (isControl(v)) control.onWatching();
  }

  // The `info` poll doubles as a session watchdog: after a Janus restart the
  // old session's long poll keeps answering "no such session" without
  // janus.js ever reporting it, but this request fails.
  function pollInfo(a) {
    if (!isLive(a) || !a.handle) return;
    const v = a.view;
    const epoch = control.infoEpoch();
    a.handle.send({
      message: withCamera(v, { request: 'info' }),
      success: (r) => {
        if (!isLive(a)) return;
        a.infoErrors = 0;
        if (r && r.camera === 'info') {
          v.model.info = r;
          if (isControl(v)) control.onInfo(r, epoch);
          if (r.source) {
            const st = r.source.state;
            if (st === 'error') v.model.source = { state: st, error: r.source.error ?? null };
            else if (v.model.source && v.model.source.state === 'error') v.model.source = { state: st, error: null };
          }
          render(v);
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
    a.view.model.stats = stats;
    render(a.view);
  }

  // Reads each view's stamp once a second.  requestVideoFrameCallback runs
  // when a frame is handed to the compositor, so "now - stamp" is the delay
  // up to the moment it is shown, not up to whenever a timer happened to fire.
  function pollStamp(v) {
    const a = v.attempt;
    const video = v.video;
    if (!a || v.stampRequest !== null || !video.srcObject || typeof window.readCameraStamp !== 'function') return;
    const read = () => {
      v.stampRequest = null;
      if (!isLive(a)) return;
      const s = window.readCameraStamp(video);
      if (!s) {
        v.model.stamp = emptyStamp();
      } else {
        v.model.stamp = { counter: s.counter, timeMs: s.timeMs, delayMs: window.CameraStamp.delayMs(s.timeMs), at: Date.now() };
      }
      render(v);
    };
    if (typeof video.requestVideoFrameCallback === 'function') {
      // A frozen picture presents no frame, so the stamp (and its `at`)
      // simply stops updating: tests can see a freeze from stamp.at.
      v.stampRequest = video.requestVideoFrameCallback(read);
    } else {
      read();
    }
  }

  function cancelStamp(v) {
    if (v.stampRequest !== null && typeof v.video.cancelVideoFrameCallback === 'function') {
      v.video.cancelVideoFrameCallback(v.stampRequest);
    }
    v.stampRequest = null;
  }

  // Frees what attempt `a` holds, here and on the server.  While the page
  // unloads, requests in flight may be cancelled: janus.js's `unload` path
  // sends the HTTP `destroy` as a beacon instead; over WebSockets the
  // `destroy` goes on the open socket (and its close alone would do, as
  // Janus drops a transport's sessions when it goes).
  function teardown(a, unloading = false) {
    const v = a.view;
    for (const t of a.timers) clearInterval(t);
    clearTimeout(a.disconnectedTimer);
    cancelStamp(v);
    v.video.srcObject = null;   // never show a stale frame as live
    v.model.stats = emptyStats();
    v.model.stamp = emptyStamp();
    if (isControl(v)) control.onTeardown();
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
    for (const v of page.views) {
      clearTimeout(v.retryTimer);
      v.retryTimer = null;
      const a = v.attempt;
      v.attempt = null;
      if (a) teardown(a, true);
    }
  }

  function fail(a, message, code = null) {
    if (!isLive(a)) return;
    const v = a.view;
    v.attempt = null;
    if (v.model.watchingSince && Date.now() - v.model.watchingSince > STABLE_MS) v.failures = 0;
    teardown(a);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** v.failures);
    v.failures++;
    v.model.errorCode = code;
    v.model.reconnects++;
    setState(v, 'reconnecting', `${message} — retrying in ${(delay / 1000).toFixed(1)} s`);
    v.retryTimer = setTimeout(() => connect(v), delay);
  }

  function giveUp(a, message, code) {
    if (!isLive(a)) return;
    const v = a.view;
    v.attempt = null;
    teardown(a);
    v.model.errorCode = code;
    setState(v, 'error', message);
  }

  // The control view changed (the picker): control starts over with the
  // new view's viewer.
  function controlSwitched() {
    control.onTeardown();
    const a = controlAttempt();
    if (a) {
      ctl.channelOpen = a.channelOpen;
      pollInfo(a);
    }
  }

  // ---- Buttons -----------------------------------------------------------

  function keyframe(v) {
    const a = v.attempt;
    if (!a || !a.handle) return;
    a.handle.send({
      message: withCamera(v, { request: 'keyframe' }),
      success: (r) => { if (r && r.error_code) showError(v, `keyframe: error ${r.error_code}: ${r.error}`, r.error_code); },
      error: (e) => showError(v, `keyframe: ${describe(e)}`),
    });
  }

  // `snapshot` on the view's own handle: the newest picture as a JPEG,
  // shown below the video with its size and capture time, and offered for
  // download.  490 (rate limited), 488 (source down) and the rest are shown
  // under it; the video is not touched.
  function snapshot(v) {
    const a = v.attempt;
    if (!a || !a.handle || v.snapshotBusy) return;
    const body = withCamera(v, { request: 'snapshot' });
    if (v.pin !== null) body.pin = v.pin;
    v.snapshotBusy = true;
    render(v);
    const done = (snap) => {
      v.snapshotBusy = false;
      v.model.snapshot = snap;
      render(v);
    };
    a.handle.send({
      message: body,
      success: (r) => {
        if (v.closed) return;
        if (!r || r.error_code || r.camera !== 'snapshot' || typeof r.data !== 'string') {
          done({ code: r?.error_code ?? 0, error: r?.error_code ? `error ${r.error_code}: ${r.error || ''}` : 'no picture in the answer' });
          return;
        }
        let blob;
        try {
          const bin = atob(r.data);
          const bytes = new Uint8Array(bin.length);
          for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
          blob = new Blob([bytes], { type: 'image/jpeg' });
        } catch {
          done({ code: 0, error: 'the picture is not valid base64' });
          return;
        }
        if (v.snapshotUrl) URL.revokeObjectURL(v.snapshotUrl);
        v.snapshotUrl = URL.createObjectURL(blob);
        v.f['snapshot-img'].src = v.snapshotUrl;
        const link = v.f['snapshot-download'];
        link.href = v.snapshotUrl;
        const when = new Date(r.captured).toISOString().replace(/[:.]/g, '-');
        link.download = `${r.id || v.camera || 'camera'}-${when}.jpg`;
        done({ width: r.width, height: r.height, bytes: blob.size, captured: r.captured, at: Date.now(), error: null });
      },
      error: (e) => { if (!v.closed) done({ code: 0, error: describe(e) }); },
    });
  }

  $('camera-picker').addEventListener('change', (e) => {
    const val = e.target.value;
    const ids = val === ALL ? (page.cameras || []).map((c) => c.id) : val.split(',');
    setSelection(ids);
  });

  // ---- Test hook ---------------------------------------------------------

  const copy = (o) => (o ? { ...o } : o);
  const clone = (o) => (o ? JSON.parse(JSON.stringify(o)) : o);
  // What one view believes; `pc` is its live RTCPeerConnection.
  function viewHook(v) {
    if (!v) return null;
    return Object.freeze({
      get camera() { return v.camera; },
      get state() { return v.model.state; },
      get error() { return v.model.error; },
      get errorCode() { return v.model.errorCode; },
      get viewerId() { return v.model.viewerId; },
      get stats() { return copy(v.model.stats); },
      get stamp() { return copy(v.model.stamp); },
      get info() { return clone(v.model.info); },
      get source() { return copy(v.model.source); },
      get reconnects() { return v.model.reconnects; },
      get snapshot() { return copy(v.model.snapshot); },
      get server() { return v.attempt ? v.attempt.server : null; },
      get tried() { return v.attempt ? [...v.attempt.tried] : []; },
      get pc() { return v.attempt && v.attempt.handle ? v.attempt.handle.webrtcStuff.pc : null; },
      get isControl() { return isControl(v); },
    });
  }
  const first = () => viewHook(controlView());
  window.cameraDemo = Object.freeze({
    // The first (control) view, as the page had one before cameras.
    get state() { return first().state; },
    get error() { return first().error; },
    get errorCode() { return first().errorCode; },
    get viewerId() { return first().viewerId; },
    get stats() { return first().stats; },
    get stamp() { return first().stamp; },
    get info() { return first().info; },
    get source() { return first().source; },
    get reconnects() { return first().reconnects; },
    get server() { return first().server; },
    get tried() { return first().tried; },
    get pc() { return first().pc; },
    get servers() { return [...servers]; },
    get iceServers() { return JSON.parse(JSON.stringify(iceServers)); },
    get configErrors() { return [...configErrors]; },
    get dataChannel() {
      const a = controlAttempt();
      const dc = a && a.handle && a.handle.webrtcStuff.dataChannel;
      return dc && dc[CONTROL_LABEL] ? dc[CONTROL_LABEL].readyState : null;
    },
    get control() { return ctl.policy; },
    get controller() { return ctl.controller; },
    get isController() { return isController(); },
    get telemetry() { return ctl.telemetry === undefined ? undefined : JSON.parse(JSON.stringify(ctl.telemetry)); },
    get telemetryLog() { return ctl.log.map((l) => l.text); },
    get lastControlError() { return copy(ctl.lastError); },
    get sentDrive() { return ctl.sentDrive; },
    get controllerText() { return $('control-holder').textContent; },
    // Cameras: the plugin's list (null: not known, or a plugin without
    // `cameras`), the shown cameras in order, and each view by camera id.
    get cameras() { return clone(page.cameras); },
    get legacy() { return page.legacy; },
    get shown() { return page.views.map((v) => v.camera); },
    get pickerShown() { return !$('picker-row').hidden; },
    view(id) { return viewHook(page.views.find((v) => v.camera === id)); },
  });

  // ---- Start -------------------------------------------------------------

  setInterval(() => page.views.forEach(pollStamp), STATS_PERIOD_MS);
  window.addEventListener('pagehide', leavePage);
  // Back from the back/forward cache: watch again.
  window.addEventListener('pageshow', (e) => {
    if (!e.persisted) return;
    for (const v of page.views) {
      if (v.attempt !== null || v.retryTimer !== null || v.model.state === 'error') continue;
      setState(v, 'connecting', null);
      connect(v);
    }
  });
  // The first view exists at once (the first ?camera=, or the default
  // camera); its `cameras` answer brings the others.
  page.views = [createView(page.wanted.find((id) => id !== ALL) ?? null)];
  render(page.views[0]);
  if (typeof Janus === 'undefined') {
    setState(page.views[0], 'error', 'janus.js did not load');
    return;
  }
  Janus.init({
    debug: params.has('debug') ? 'all' : ['warn', 'error'],
    callback: () => {
      if (!Janus.isWebrtcSupported()) {
        setState(page.views[0], 'error', 'this browser has no WebRTC');
        return;
      }
      connect(page.views[0]);
    },
  });
})();
