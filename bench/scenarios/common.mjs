import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freshCounters } from '../lib/counters.mjs';
import { Histogram } from '../lib/hist.mjs';
import { cpuSeconds, rssKb } from '../lib/procs.mjs';
import { startBaseline, startSquall } from '../lib/stack.mjs';

export const now = () => performance.timeOrigin + performance.now();

/** CPU seconds of the given PIDs plus, for `withChildren`, their direct children (Postgres backends). */
export function cpuOf(pids, withChildren = []) {
  let total = 0;
  for (const pid of pids) if (pid) total += cpuSeconds(pid) || 0;
  if (withChildren.length) {
    const parents = new Set(withChildren.filter(Boolean));
    for (const pid of parents) total += cpuSeconds(pid) || 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (parents.has(ppid)) total += cpuSeconds(Number(entry)) || 0;
      } catch {
        /* exited meanwhile */
      }
    }
  }
  return total;
}

/** Median of a few VmRSS reads, `gapMs` apart, in KiB. */
/**
 * The lowest VmRSS read every `gapMs` over `durationMs`: an idle process's
 * RSS falls once V8 collects what connecting left behind, which happens at
 * some point during an idle hold, not at a fixed time. Taken the same way for
 * every server, it measures what the connections keep, not when the GC ran.
 */
export async function lowestRss(pid, durationMs, gapMs = 250) {
  let lowest = rssKb(pid);
  for (const end = Date.now() + durationMs; Date.now() < end;) {
    await sleep(gapMs);
    lowest = Math.min(lowest, rssKb(pid));
  }
  return lowest;
}

export async function settledRss(pid, reads = 3, gapMs = 500) {
  const values = [];
  for (let i = 0; i < reads; i++) {
    if (i) await sleep(gapMs);
    values.push(rssKb(pid));
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)];
}

/**
 * Polls the workers until `expected` deliveries arrived, nothing has moved
 * for `stallMs`, or `timeoutMs` passed. Returns the delivered total.
 */
export async function waitDelivered(gens, expected, { timeoutMs = 60_000, stallMs = 10_000 } = {}) {
  const start = Date.now();
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const counts = await Promise.all(gens.map((g) => g.call('count')));
    const delivered = counts.reduce((s, c) => s + c.delivered, 0);
    if (delivered >= expected) return delivered;
    if (delivered !== last) {
      last = delivered;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > stallMs || Date.now() - start > timeoutMs) return delivered;
    await sleep(200);
  }
}

/** Merges the workers' `stats` answers. */
export function mergeStats(list) {
  const byLabel = {};
  const all = new Histogram();
  const counters = freshCounters();
  let open = 0;
  for (const s of list) {
    open += s.open;
    for (const [label, h] of Object.entries(s.latency)) {
      (byLabel[label] ??= new Histogram()).merge(h);
      all.merge(h);
    }
    const c = s.counters;
    counters.delivered += c.delivered;
    counters.gaps += c.gaps;
    counters.duplicates += c.duplicates;
    counters.errorFrames += c.errorFrames;
    counters.errorSamples.push(...c.errorSamples);
    for (const [code, n] of Object.entries(c.unexpectedCloses)) {
      counters.unexpectedCloses[code] = (counters.unexpectedCloses[code] ?? 0) + n;
    }
    if (c.firstRecv !== null) counters.firstRecv = Math.min(counters.firstRecv ?? Infinity, c.firstRecv);
    if (c.lastRecv !== null) counters.lastRecv = Math.max(counters.lastRecv ?? -Infinity, c.lastRecv);
  }
  return {
    all,
    byLabel,
    counters,
    firstRecv: counters.firstRecv ?? Infinity,
    lastRecv: counters.lastRecv ?? -Infinity,
    open,
  };
}

export const closesText = (closes) =>
  Object.keys(closes).length
    ? Object.entries(closes)
        .map(([c, n]) => `${n}x${c}`)
        .join(',')
    : '0';

/**
 * Runs `runOne` on a fresh Squall process, then on a fresh baseline process,
 * so neither reading is inflated by an earlier scenario; both are stopped
 * (and their exits recorded) whatever happens.
 */
export async function runOnFreshPair(ctx, name, runOne) {
  const results = {};
  for (const [label, start] of [
    ['squall', () => startSquall(name, ctx.infra)],
    ['baseline', () => startBaseline(name)],
  ]) {
    const server = await start();
    ctx.extraServers.push(server);
    try {
      results[label] = await runOne(ctx, server, label);
    } finally {
      ctx.recordStop(server, await server.stop());
    }
  }
  return results;
}
