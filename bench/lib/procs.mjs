// SPDX-License-Identifier: GPL-3.0-or-later
//
// Process bookkeeping for the benchmark: CPU time and RSS of a server's whole
// process tree read from /proc, and spawning children in their own process
// group so that each can be stopped, with everything it started, by its id.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// /proc/<pid>/stat fields after the command name (which may hold spaces).
function statFields(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

// pid -> ppid for every process we can see.
function processTable() {
  const table = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f) table.set(Number(name), Number(f[1]));
  }
  return table;
}

// The roots and every process descending from them.
export function treePids(roots) {
  const table = processTable();
  const out = new Set(roots.filter((p) => table.has(p)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of table) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return [...out];
}

// Per process: utime + stime of all its threads, plus cutime + cstime of
// its reaped children ("children included"), in clock ticks.
function cpuTicks(pid) {
  const f = statFields(pid);
  if (!f) return null;
  // Fields 14..17 of stat are f[11..14] here (f[0] is field 3, the state).
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

export function rssKiB(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number((s.match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0);
  } catch {
    return null;
  }
}

// The whole machine's busy time (all CPUs), to tell in the raw figures how
// much else was running during a window: the machine is shared.
function machineTicks() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] || 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

// A snapshot of a server's process tree: ticks per pid, at a time.
export function snapshot(roots) {
  const pids = treePids(roots);
  const ticks = new Map();
  for (const p of pids) {
    const t = cpuTicks(p);
    if (t !== null) ticks.set(p, t);
  }
  return { ticks, at: performance.now(), machine: machineTicks() };
}

// CPU in % of one core between two snapshots.  A process seen at both ends
// counts its difference; one born in between counts all it used.  (One that
// died in between is counted by its parent's cutime/cstime once reaped.)
export function cpuBetween(a, b) {
  let ticks = 0;
  for (const [pid, t1] of b.ticks) {
    const t0 = a.ticks.get(pid);
    ticks += t0 === undefined ? t1 : Math.max(0, t1 - t0);
  }
  const wall = (b.at - a.at) / 1000;
  const m = { busy: b.machine.busy - a.machine.busy, total: b.machine.total - a.machine.total };
  return {
    percent: (100 * ticks) / CLK_TCK / wall,
    wallSeconds: wall,
    processes: b.ticks.size,
    // % of the whole machine (all cores) that was busy, anything included.
    machineBusyPercent: m.total > 0 ? (100 * m.busy) / m.total : NaN,
  };
}

// CPU (cpuBetween) of a server's process tree over the next `seconds`.
export async function cpuWindow(roots, seconds) {
  const a = snapshot(roots);
  await sleep(seconds * 1000);
  return cpuBetween(a, snapshot(roots));
}

// Spawns a command in its own process group (so stopping it also stops what
// it started: a shell pipeline, python's threads' helpers).  Output goes to
// logFile.  Returns {proc, pid, exited, stop()}.
export function spawnGroup(cmd, args, { logFile, env, cwd } = {}) {
  const fd = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  if (logFile) fs.writeSync(fd, `# ${cmd} ${args.join(' ')}\n`);
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env || process.env, cwd, detached: true });
  if (logFile) fs.closeSync(fd);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });
  live.add(proc.pid);
  return {
    proc,
    pid: proc.pid,
    exited,
    get running() { return exit === null; },
    async stop({ signal = 'SIGTERM', timeout = 8000 } = {}) {
      if (exit === null) {
        try { process.kill(-proc.pid, signal); } catch { /* already gone */ }
        const t = await Promise.race([exited, sleep(timeout).then(() => null)]);
        if (!t) {
          try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
          await Promise.race([exited, sleep(3000)]);
        }
      }
      // The group may outlive its leader (a pipeline's other half).
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* nothing left */ }
      live.delete(proc.pid);
      return exit;
    },
  };
}

// Every group we started and have not stopped yet: killed on our way out,
// whatever the reason, so no server outlives the benchmark.
const live = new Set();
export function killAllStarted() {
  for (const pid of live) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
  live.clear();
}
