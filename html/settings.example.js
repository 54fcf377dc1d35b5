// SPDX-License-Identifier: GPL-3.0-or-later
//
// Optional settings for the demo page (camera.html).  Copy this file to
// settings.js beside camera.html and edit it; without a settings.js the page
// uses its defaults.  Query parameters win over this file: ?server=... over
// `servers`, ?ice=... over `iceServers`.
window.cameraSettings = {
  // Janus servers to try, in order; the first that answers is used.  Each an
  // http(s):// URL of the HTTP transport's base path, a ws(s):// URL of the
  // WebSocket transport, or a path on the page's own origin.  Leave it out
  // to use the defaults: /janus on this origin, then this host's Janus on its
  // default ports (http: :8088/janus, ws: :8188; https: :8089/janus, wss: :8989).
  // servers: ['wss://camera.example.org:8989', 'https://camera.example.org:8089/janus'],

  // STUN/TURN servers, as RTCPeerConnection takes them (RTCIceServer), for
  // viewers behind NATs.  TURN needs a username and a credential.
  // iceServers: [
  //   { urls: 'stun:stun.example.org:3478' },
  //   { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
  //     username: 'camera', credential: 'secret' },
  // ],
};
