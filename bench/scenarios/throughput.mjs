/**
 * Publish throughput: C WebSocket publishers, each sending `publish` and
 * awaiting its `ack` before the next, for T seconds. Squall commits every
 * publish to Postgres (and hands it to Redis) before acking; the baseline
 * acks from memory. Two variants: one channel per publisher, and all
 * publishers on one shared channel (Squall serialises a channel's publishes
 * on its Postgres row lock, which is how seqs stay gap-free).
 */
import { Histogram } from '../lib/hist.mjs';
import { split } from '../lib/loadgens.mjs';
import { cpuOf } from './common.mjs';

async function runOne(ctx, sys, variant) {
  const { cfg } = ctx;
  const { connections: C, durationMs: T, warmupMs } = cfg.throughput;
  const gens = ctx.gens.slice(0, 2);
  const parts = split(C, gens.length);
  const channelsFor = (tag, i) => {
    if (variant === 'shared') return [`bench.${ctx.runId}.tp.${sys.key}.${tag}.shared`];
    const offset = parts.slice(0, i).reduce((s, n) => s + n, 0);
    return Array.from(
      { length: parts[i] },
      (_, j) => `bench.${ctx.runId}.tp.${sys.key}.${tag}.${offset + j}`,
    );
  };
  const loop = (tag, durationMs) =>
    Promise.all(
      gens.map((g, i) =>
        g.call('publishLoop', {
          url: sys.url,
          channels: channelsFor(tag, i),
          connections: parts[i],
          durationMs,
          addrs: g.addrs,
        }),
      ),
    );
  await loop('warm', warmupMs);
  const cpu0 = cpuOf([sys.pid]);
  const pg0 = sys.pgPid ? cpuOf([], [sys.pgPid]) : NaN;
  const results = await loop('run', T);
  const cpu1 = cpuOf([sys.pid]);
  const pg1 = sys.pgPid ? cpuOf([], [sys.pgPid]) : NaN;
  const acked = results.reduce((s, r) => s + r.acked, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const elapsed = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
  const ack = new Histogram();
  for (const r of results) ack.merge(r.ack);
  return {
    acked,
    failed,
    errors: results.flatMap((r) => r.errors),
    acksPerSec: acked / elapsed,
    ack: ack.summary(),
    serverCpuS: cpu1 - cpu0,
    postgresCpuS: pg1 - pg0,
  };
}

export async function throughput(ctx) {
  const a = ctx.squall[0];
  const pgPid = ctx.infra.postgresPid?.();
  const out = {};
  for (const variant of ['distinct', 'shared']) {
    out[variant] = {
      squall: await runOne(ctx, { key: 'squall', url: a.wsUrl, pid: a.pid, pgPid }, variant),
      baseline: await runOne(
        ctx,
        { key: 'baseline', url: ctx.baseline.wsUrl, pid: ctx.baseline.pid },
        variant,
      ),
    };
    ctx.log(
      `throughput ${variant}: squall ${out[variant].squall.acksPerSec.toFixed(0)}/s, baseline ${out[variant].baseline.acksPerSec.toFixed(0)}/s`,
    );
  }
  const rows = [];
  for (const [variant, label] of [
    ['distinct', 'own channel each'],
    ['shared', 'one shared channel'],
  ]) {
    const { squall: s, baseline: b } = out[variant];
    rows.push(
      {
        metric: `[${label}] acked publishes/s`,
        squall: s.acksPerSec,
        baseline: b.acksPerSec,
        better: 'higher',
      },
      { metric: `[${label}] ack latency p50 (ms)`, squall: s.ack.p50, baseline: b.ack.p50, better: 'lower' },
      { metric: `[${label}] ack latency p99 (ms)`, squall: s.ack.p99, baseline: b.ack.p99, better: 'lower' },
      { metric: `[${label}] errors`, squall: s.failed, baseline: b.failed, ratio: false, digits: 0 },
      {
        metric: `[${label}] server CPU ms / 1k acks`,
        squall: (s.serverCpuS * 1e6) / s.acked,
        baseline: (b.serverCpuS * 1e6) / b.acked,
        better: 'lower',
      },
      {
        metric: `[${label}] Postgres CPU ms / 1k acks`,
        squall: pgPid ? (s.postgresCpuS * 1e6) / s.acked : 'n/a',
        baseline: '-',
        ratio: false,
      },
    );
  }
  const { connections: C, durationMs: T } = ctx.cfg.throughput;
  const notes = [
    `${C} WebSocket publishers over 2 load-generator processes, each awaiting its ack before the next publish, for ${T / 1000} s (after a warm-up); one Squall instance vs one baseline process.`,
    'Squall acks only after the message is committed to Postgres: that is the price of durability and per-channel seq, measured here.',
    ctx.infra.started.some((s) => s.startsWith('postgres'))
      ? "The bench's embedded Postgres runs with fsync=off (the dev/test settings), so disk flush cost is NOT included; with fsync on, expect lower numbers."
      : 'Postgres came from DATABASE_URL: its durability settings are whatever that server uses.',
  ];
  return { rows, notes, raw: out };
}
