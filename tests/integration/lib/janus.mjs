// SPDX-License-Identifier: GPL-3.0-or-later
//
// Starts and stops a private Janus for one test, configured by
// tools/janus-conf, with its log captured to a file.  Optionally runs it under
// AddressSanitizer (CAM_SANITIZE=1) and judges the sanitizer reports after it
// stops: a report about our plugin fails the test, Janus's own exit-time
// leaks do not (they are not ours to fix).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, SERVER_IP, SERVER_IFACE, makeTmpDir, sleep, tailFile, withTimeout } from './util.mjs';

export const CAMERA_SO = path.join(repoRoot, '.libs', 'libjanus_camera.so');
export const ECHOTEST_SO = '/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_echotest.so';

// Sanitized runs signal "a report was written" with this exit status, so it
// cannot be mistaken for a crash; the logs decide then.
const SAN_EXITCODE = 86;

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// Appends one line to $CAM_IT_MARKER for each Janus that really started and
// answered HTTP, so tests/integration/run can tell "tests passed" from
// "tests passed because nothing ran".
function mark(kind) {
  const f = process.env.CAM_IT_MARKER;
  if (f) fs.appendFileSync(f, `${kind}\n`);
}

export function sanitizerEnv(dir) {
  if (process.env.CAM_SANITIZE !== '1') return {};
  const libasan = execFileSync('gcc', ['-print-file-name=libasan.so']).toString().trim();
  if (!libasan.startsWith('/') || !fs.existsSync(libasan)) {
    throw new Error(`CAM_SANITIZE=1 but gcc gives no libasan.so (${libasan})`);
  }
  return {
    // The plugin is built with -fsanitize; janus is not, so the runtime must
    // come first in the process or dlopen of the plugin refuses it.
    LD_PRELOAD: libasan,
    ASAN_OPTIONS: [
      `log_path=${path.join(dir, 'asan')}`,
      'detect_leaks=1',
      `exitcode=${SAN_EXITCODE}`,
      'abort_on_error=0',
      'halt_on_error=1',
      'detect_stack_use_after_return=0',
      'verify_asan_link_order=0',
      'fast_unwind_on_malloc=0',
      'malloc_context_size=30',
    ].join(':'),
    UBSAN_OPTIONS: `log_path=${path.join(dir, 'ubsan')}:print_stacktrace=1:halt_on_error=0`,
  };
}

// Reads the sanitizer logs of a stopped Janus.  Returns {problems, ignored}:
// problems fail the test; ignored are leak reports with no frame of ours.
export function scanSanitizerLogs(dir, extraTexts = []) {
  const problems = [];
  const ignored = [];
  const ours = /libjanus_camera|\bplugin\/[\w.-]+\.[ch]\b/;
  const texts = [...extraTexts];
  for (const f of fs.readdirSync(dir)) {
    if (/^(asan|ubsan)\.\d+/.test(f)) texts.push(fs.readFileSync(path.join(dir, f), 'utf8'));
  }
  for (const text of texts) {
    // UBSan runtime errors are one line plus an optional stack.
    for (const line of text.split('\n')) {
      if (/runtime error:/.test(line)) problems.push(`UBSan: ${line.trim()}`);
    }
    // ASan reports: one per "==PID==ERROR:" header.
    const reports = text.split(/(?===\d+==ERROR: )/).filter((r) => /^==\d+==ERROR: /.test(r));
    for (const r of reports) {
      if (/LeakSanitizer: detected memory leaks/.test(r)) {
        // Judge each leak block separately: only ours fail.
        const blocks = r.split(/\n(?=(?:Direct|Indirect) leak of )/).slice(1);
        for (const b of blocks) {
          const head = b.split('\n')[0];
          if (ours.test(b)) problems.push(`LSan (ours): ${b.trim().split('\n').slice(0, 16).join('\n')}`);
          else ignored.push(head);
        }
      } else if (/AddressSanitizer: FPE/.test(r) && isKnownJanusExitRace(r)) {
        ignored.push('known Janus 1.1.2 exit race (FPE in janus_sctp_association_destroy)');
      } else {
        problems.push(`ASan: ${r.trim().split('\n').slice(0, 40).join('\n')}`);
      }
    }
    if (/LeakSanitizer has encountered a fatal error/.test(text)) {
      problems.push('LSan could not run (fatal error in leak checker): leaks were not checked');
    }
  }
  return { problems, ignored };
}

// The one exit-time crash of Janus 1.1.2 itself seen here: an ICE loop
// destroying a PeerConnection after the core de-initialised SCTP.  Only when
// no frame of our plugin is on the crashing stack.
export function isKnownJanusExitRace(bt) {
  // gdb: the crashing stack comes first; an ASan report has only that one.
  const crashing = (bt || '').split(/\nThread /)[0];
  return /g_hash_table_remove[\s\S]*janus_sctp_association_destroy/.test(crashing) && !/libjanus_camera|plugin\//.test(crashing);
}

export class Janus {
  constructor({ dir, proc, url, logFile, plugins, sanitize }) {
    this.dir = dir;
    this.proc = proc;
    this.pid = proc.pid;
    this.url = url; // http://ip:port/janus
    this.logFile = logFile;
    this.plugins = plugins;
    this.sanitize = sanitize;
    this.exit = null; // {code, signal} once it exits
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running() {
    return this.exit === null;
  }

  log() {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 60) {
    return tailFile(this.logFile, lines);
  }

  // Signal lines from strace (CAM_JANUS_STRACE=1), else ''.
  signals() {
    if (!this.strace) return '';
    try {
      const lines = fs.readFileSync(path.join(this.dir, 'signals.strace'), 'utf8').split('\n');
      // Name the sender when it still exists: it may be a process of ours
      // or someone else's stale "kill $pid" hitting a reused pid.
      return lines.filter((l) => /---|\+\+\+/.test(l)).slice(-20).map((l) => {
        const m = l.match(/si_pid=(\d+)/);
        if (!m) return l;
        let who = 'gone';
        try {
          who = fs.readFileSync(`/proc/${m[1]}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 200);
        } catch {
          // the sender has exited
        }
        return `${l}  [sender ${m[1]}: ${who}]`;
      }).join('\n');
    } catch {
      return '';
    }
  }

  // The backtrace of a core dump Janus left (all threads, symbols as far as
  // the installed libraries have them), saved to backtrace.txt; the core
  // itself is deleted (it is large).  '' when there is none.
  backtrace() {
    const bt = path.join(this.dir, 'backtrace.txt');
    if (fs.existsSync(bt)) return fs.readFileSync(bt, 'utf8');
    const core = fs.readdirSync(this.dir).find((f) => /^core(\.\d+)?$/.test(f));
    if (!core) return '';
    let text;
    try {
      text = execFileSync('gdb', ['-batch', '-nx', '-ex', 'info signals SIGFPE', '-ex', 'bt 30',
        '-ex', 'thread apply all bt 12', '/usr/bin/janus', path.join(this.dir, core)],
      { timeout: 60000, maxBuffer: 8 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (e) {
      text = `gdb failed: ${e.message}\n${e.stdout || ''}`;
    }
    // Keep the crashing thread's stack and the other threads' tops.
    text = text.split('\n').filter((l) => /^#|^Thread|^Program|^Core|signal/.test(l)).join('\n');
    fs.writeFileSync(bt, text);
    fs.rmSync(path.join(this.dir, core), { force: true });
    return text;
  }

  // One Janus Admin API request (diagnostics only: what Janus itself holds
  // about sessions and handles when a client is stuck).
  async admin(janus, extra = {}, { session, handle } = {}) {
    const url = [this.adminUrl, session, handle].filter((x) => x !== undefined).join('/');
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ janus, transaction: `adm${Date.now()}`, admin_secret: 'janusoverlord', ...extra }),
      signal: AbortSignal.timeout(5000),
    });
    return r.json();
  }

  // Every session and handle Janus has, with the plugin's own view of each
  // handle (query_session) and the WebRTC state, trimmed for a report.
  async dumpHandles({ max = 12 } = {}) {
    const out = [];
    try {
      const ss = (await this.admin('list_sessions')).sessions || [];
      for (const s of ss.slice(-max)) {
        const hs = (await this.admin('list_handles', {}, { session: s })).handles || [];
        for (const h of hs) {
          const i = (await this.admin('handle_info', {}, { session: s, handle: h })).info || {};
          out.push(JSON.stringify({
            session: s, handle: h, plugin: i.plugin, created: i.created,
            plugin_specific: i.plugin_specific, flags: i.flags, agent_created: i['agent-created'],
            sdps: i.sdps ? { profile: i.sdps.profile, local: !!i.sdps.local, remote: !!i.sdps.remote } : undefined,
            webrtc_state: i.webrtc_state ?? i.flags?.['ready'],
          }));
        }
      }
    } catch (e) {
      out.push(`admin API failed: ${e.message}`);
    }
    return out.join('\n');
  }

  // Stacks of the live Janus's threads that are in our plugin (gdb attach,
  // a second or two), for reports of a stuck request.  Diagnostics only.
  liveStacks({ all = false } = {}) {
    if (!this.running) return '(Janus is not running)';
    let text;
    try {
      text = execFileSync('gdb', ['-batch', '-nx', '-p', String(this.pid), '-ex', 'thread apply all bt 25'],
        { timeout: 60000, maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (e) {
      return `gdb failed: ${e.message}`;
    }
    const threads = text.split(/\n(?=Thread \d+ )/).filter((t) => t.startsWith('Thread '));
    const keep = all ? threads : threads.filter((t) => /libjanus_camera|plugin\/|camera/.test(t));
    return keep.map((t) => t.split('\n').filter((l) => /^Thread|^#/.test(l)).join('\n')).join('\n\n');
  }

  // Why Janus is gone, for an assertion message.
  deathReport() {
    const sig = this.strace ? `\nsignals (Janus pid ${this.pid}, test pid ${process.pid}):\n${this.signals()}` : '';
    const bt = this.exit?.signal ? this.backtrace() : '';
    return `exit ${JSON.stringify(this.exit)}${sig}${bt ? `\n--- backtrace ---\n${bt.slice(0, 6000)}` : ''}` +
      `\n--- Janus log tail (${this.logFile}) ---\n${this.tail(60)}`;
  }

  // Lines of the log that match re, for failure messages (last `max` ones).
  grep(re, max = 40) {
    return this.log().split('\n').filter((l) => re.test(l)).slice(-max).join('\n');
  }

  // {cpuSeconds, rssKiB, at} of the Janus process, for printing only.
  usage() {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // The command name may contain spaces: fields start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(f[11]); // field 14
    const stime = Number(f[12]); // field 15
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const rss = Number((status.match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0);
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssKiB: rss, at: performance.now() };
  }

  // CPU use over a window, as % of one core: call with the usage() from the
  // start of the window.
  cpuPercentSince(u0) {
    const u1 = this.usage();
    const wall = (u1.at - u0.at) / 1000;
    return { percent: wall > 0 ? (100 * (u1.cpuSeconds - u0.cpuSeconds)) / wall : NaN, rssKiB: u1.rssKiB, wall };
  }

  // SIGINT, then SIGKILL after `timeout`.  Returns a verdict:
  // {crashed, killed, code, signal, sanitizer: {problems, ignored}}.
  async stop({ timeout = 10000 } = {}) {
    let killed = false;
    if (this.running) {
      // Janus 1.1.2 can crash at exit (SIGFPE in janus_sctp_association_destroy,
      // called from an ICE loop after "De-initializing SCTP") when a handle's
      // PeerConnection is still being freed as it shuts down.  Let handles
      // the test just closed finish freeing first (bounded): the race is the
      // core's, and the plugin's own destroy path is not what it exercises.
      const count = (re) => (this.log().match(re) || []).length;
      for (let i = 0; i < 30; i++) {
        if (count(/Creating new handle in session/g) <= count(/Handle and related resources freed/g)) break;
        await sleep(100);
      }
      // Under strace, SIGINT to strace would detach it; signal Janus itself.
      if (this.strace) process.kill(this.pid, 'SIGINT');
      else this.proc.kill('SIGINT');
      // withTimeout clears its timer, so a quick exit leaves nothing behind
      // to keep the test process alive.
      const done = await withTimeout(this.exited, timeout, 'janus exit').catch(() => null);
      if (!done) {
        killed = true;
        this.proc.kill('SIGKILL');
        await withTimeout(this.exited, 5000, 'janus SIGKILL');
      }
    }
    const { code, signal } = this.exit;
    const sanExit = this.sanitize && code === SAN_EXITCODE;
    const crashed = !killed && (signal !== null || (code !== 0 && !sanExit));
    let sanitizer = { problems: [], ignored: [] };
    if (this.sanitize) sanitizer = scanSanitizerLogs(this.dir, [this.log()]);
    return { crashed, killed, code, signal, sanitizer };
  }

  // Like stop(), but throws with log excerpts when Janus crashed, hung on
  // exit, or the sanitizer found something of ours.  For test teardown.
  async stopAndCheck(opts) {
    const wasRunning = this.running;
    const v = await this.stop(opts);
    const errs = [];
    if (!wasRunning) errs.push(`Janus had already exited before stop (code ${v.code}, signal ${v.signal})`);
    else if (v.crashed) errs.push(`Janus exited badly on stop (code ${v.code}, signal ${v.signal})`);
    if (v.killed) errs.push('Janus did not exit within the timeout after SIGINT (killed)');
    if (errs.length && this.strace) errs.push(`signals received by Janus (pid ${this.pid}):\n${this.signals()}`);
    if (v.signal && !v.killed) {
      // "Bye!" is Janus's last line: a signal after it is an exit-time crash
      // (library destructors, threads left running), not one in service.
      const afterBye = /\nBye!\s*$/.test(this.log());
      const bt = this.backtrace();
      if (afterBye && isKnownJanusExitRace(bt)) {
        // Not ours to fix, and not the plugin's doing: report, don't fail.
        const i = errs.findIndex((e) => e.startsWith('Janus exited badly on stop'));
        if (i >= 0) errs.splice(i, 1);
        console.log(`# known Janus 1.1.2 exit race (SIGFPE in janus_sctp_association_destroy after "Bye!"); backtrace in ${this.dir}/backtrace.txt`);
      } else {
        errs.push(`${afterBye ? 'crash after "Bye!" (exit time)' : 'crash'}; backtrace:\n${bt ? bt.slice(0, 6000) : '(no core dump)'}`);
      }
    }
    errs.push(...v.sanitizer.problems);
    if (v.sanitizer.ignored.length) {
      const kinds = [...new Set(v.sanitizer.ignored.map((x) => x.replace(/\d+/g, 'N')))].slice(0, 5);
      console.log(`# sanitizer: ${v.sanitizer.ignored.length} report(s) not about our plugin ignored: ${kinds.join('; ')}`);
    }
    if (errs.length) {
      throw new Error(`${errs.join('\n')}\n--- Janus log tail (${this.logFile}) ---\n${this.tail(80)}`);
    }
    return v;
  }
}

// Starts Janus with a private configuration and waits until its HTTP
// transport answers GET /janus/info.
//   plugins: .so paths (default: our plugin)
//   set: camera config keys, {key: value} (value written as given: quote strings yourself) or ["k=v"]
//   raw: whole janus.plugin.camera.jcfg text
//   nat: extra lines for janus.jcfg's nat section (e.g. 'stun_server = "10.10.0.2"')
//   eventsUrl: Janus's sample event handler posts plugin events there
// A janus.plugin.camera.jcfg text: `general` and one category per camera
// ({id: {key: value}}); values are written as given, so quote strings:
// jcfg({ admin_key: '"k"' }, { front: { width: 640 } }).
export function jcfg(general = {}, cameras = {}) {
  const section = (name, keys) => `${name}: {\n${Object.entries(keys).map(([k, v]) => `\t${k} = ${v}\n`).join('')}}\n`;
  return [section('general', general), ...Object.entries(cameras).map(([id, keys]) => section(id, keys))].join('');
}

export async function startJanus({
  plugins = [CAMERA_SO],
  set = {},
  raw,
  nat = [],
  eventsUrl,
  ip = SERVER_IP,
  httpPort = 8088,
  adminPort = 7088,
  iface = SERVER_IFACE,
  debugLevel = Number(process.env.CAM_JANUS_DEBUG || 4),
  startTimeout,
  name = 'janus',
  env: extraEnv = {}, // more environment for Janus, e.g. JANUS_CAMERA_TEST_OUTAGE
} = {}) {
  for (const so of plugins) {
    if (!fs.existsSync(so)) throw new Error(`no plugin at ${so} (build first: make)`);
  }
  const dir = makeTmpDir(name);
  const args = ['--out', dir, '--ip', ip, '--http-port', String(httpPort), '--admin-port', String(adminPort), '--interface', iface,
    '--debug-level', String(debugLevel)];
  for (const so of plugins) args.push('--plugin', so);
  const sets = Array.isArray(set) ? set : Object.entries(set).map(([k, v]) => `${k}=${v}`);
  for (const kv of sets) args.push('--set', kv);
  if (raw !== undefined) args.push('--raw-camera', raw);
  for (const line of nat) args.push('--nat', line);
  if (eventsUrl) args.push('--events-url', eventsUrl);
  const cmdline = execFileSync(path.join(repoRoot, 'tools', 'janus-conf'), args).toString().trim();
  const argv = cmdline.split(/\s+/);
  // No colours in the log; the log goes to stdout, which we send to a file.
  argv.push('-o');

  const sanitize = process.env.CAM_SANITIZE === '1';
  const sanEnv = sanitizerEnv(dir);
  let env = { ...process.env, ...extraEnv, ...sanEnv };
  // CAM_JANUS_STRACE=1: record every signal Janus receives, with the
  // sender's pid (signals.strace), to find who stops a Janus unasked.  The
  // sanitizer preload goes to Janus only, not to strace.
  const strace = process.env.CAM_JANUS_STRACE === '1';
  if (strace) {
    const pre = ['strace', '-f', '-qq', '--seccomp-bpf', '-e', 'trace=none', '-o', path.join(dir, 'signals.strace')];
    // LeakSanitizer cannot stop the world under ptrace: no leak check here.
    if (sanEnv.ASAN_OPTIONS) sanEnv.ASAN_OPTIONS = sanEnv.ASAN_OPTIONS.replace('detect_leaks=1', 'detect_leaks=0');
    for (const [k, v] of Object.entries(sanEnv)) pre.push('-E', `${k}=${v}`);
    argv.unshift(...pre);
    env = { ...process.env, ...extraEnv };
  }
  const logFile = path.join(dir, 'janus.log');
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `# ${argv.join(' ')}\n`);
  // Core dumps on (core_pattern here is a plain "core" in the working
  // folder, which is the test's own): a crash then gets a backtrace, which
  // tells a Janus exit-time crash from one in our plugin.  exec keeps the pid.
  const wrapped = ['bash', '-c', 'ulimit -c unlimited 2>/dev/null; exec "$@"', 'janus-core', ...argv];
  const proc = spawn(wrapped[0], wrapped.slice(1), { stdio: ['ignore', fd, fd], env, cwd: dir });
  fs.closeSync(fd);
  const url = `http://${ip}:${httpPort}/janus`;
  const j = new Janus({ dir, proc, url, logFile, plugins, sanitize });
  j.strace = strace;
  j.adminUrl = `http://${ip}:${adminPort}/admin`;

  const limit = startTimeout ?? (sanitize ? 40000 : 15000);
  const deadline = Date.now() + limit;
  let lastErr = '';
  for (;;) {
    if (!j.running) {
      throw new Error(`Janus exited during start (code ${j.exit.code}, signal ${j.exit.signal})\n${j.tail(60)}`);
    }
    try {
      const r = await fetch(`${url}/info`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        const info = await r.json();
        j.info = info;
        break;
      }
      lastErr = `HTTP ${r.status}`;
    } catch (e) {
      lastErr = e.message;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`Janus HTTP did not answer within ${limit} ms (${lastErr})\n${j.tail(60)}`);
    }
    await sleep(100);
  }
  // The plugins we asked for must really be loaded, or every later failure
  // would be a confusing one.
  if (strace) {
    // Signals and /proc figures are for Janus itself, not for strace.
    const kids = fs.readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/);
    j.pid = Number(kids[0]);
  }
  const loaded = Object.keys(j.info.plugins || {});
  j.pluginPackages = loaded;
  mark(plugins.map((p) => path.basename(p)).join(','));
  return j;
}
