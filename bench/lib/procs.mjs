/**
 * Every process the bench starts is registered here by PID, so that a normal
 * end, an error, a signal or a watchdog timeout stops exactly those processes
 * and nothing else.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';

const children = new Map(); // pid -> { name, child }
const exitHooks = [];

export function track(child, name) {
  if (!child.pid) return child;
  children.set(child.pid, { name, child });
  child.once('exit', () => children.delete(child.pid));
  return child;
}

export function tracked() {
  return [...children.entries()].map(([pid, { name }]) => ({ pid, name }));
}

/** A synchronous last-resort step for process 'exit' (e.g. stop the postmaster by its PID). */
export function onExitSync(fn) {
  exitHooks.push(fn);
}

/** Kills every still-running child we started, by PID. Synchronous: safe inside 'exit'. */
export function killAllSync(signal = 'SIGKILL') {
  for (const [pid, { child }] of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
  for (const fn of exitHooks) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
}

/** Sends `signal` and waits for the exit; escalates to SIGKILL after `graceMs`. */
export function stopChild(child, { signal = 'SIGTERM', graceMs = 15_000 } = {}) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resolve({ code: child.exitCode, signal: child.signalCode, forced: false });
    }
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, forced });
    });
    try {
      process.kill(child.pid, signal);
    } catch {
      /* gone */
    }
  });
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resident set size of `pid` in KiB (VmRSS), or NaN. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** User+system CPU time of `pid` in seconds (from /proc/<pid>/stat; assumes 100 ticks/s). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export function openFiles(pid) {
  try {
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(
      readFileSync(`/proc/${pid}/limits`, 'utf8'),
    );
    return m ? { soft: m[1], hard: m[2] } : null;
  } catch {
    return null;
  }
}
