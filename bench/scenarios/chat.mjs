/**
 * Chat: many small rooms. `channels` channels with `perChannel` WebSocket
 * subscribers each, and C publishers, each sending `publish` and awaiting
 * its ack before the next, walking through every channel in turn for T
 * seconds. Every delivery's latency is (receive − send time); every
 * subscriber checks its channel's seqs (no gap, no duplicate). Squall: two
 * instances, subscribers split across both, publishers on A (B's rooms are
 * reached through Redis); baseline: one bare `ws` process.
 */
import { split } from '../lib/loadgens.mjs';
import { closesText, cpuOf, mergeStats, waitDelivered } from './common.mjs';
import { Histogram } from '../lib/hist.mjs';
import { socketioSystem, withSocketIo } from '../lib/socketio-reference.mjs';

async function runOne(ctx, sys) {
  const { gens, cfg } = ctx;
  const { channels: M, perChannel, publishers: C, durationMs: T, warmupMs } = cfg.chat;
  const K = M * perChannel;
  const prefix = `bench.${ctx.runId}.chat.${sys.key}.`;
  const names = Array.from({ length: M }, (_, k) => `${prefix}${k}`);
  const parts = split(K, gens.length);
  const opens = await Promise.all(
    gens.map((g, i) =>
      g.call('open', {
        targets: sys.targets,
        count: parts[i],
        channelPrefix: prefix,
        channelMod: M,
        channelOffset: parts.slice(0, i).reduce((s, n) => s + n, 0),
        addrs: g.addrs,
        concurrency: 50,
      }),
    ),
  );
  const opened = opens.reduce((s, o) => s + o.opened, 0);
  const openErrors = opens.flatMap((o) => o.errors);
  ctx.log(`chat ${sys.key}: ${opened}/${K} subscribed over ${M} channels`);
  const pubGens = [ctx.publisher];
  const loop = (durationMs) =>
    Promise.all(
      pubGens.map((g) =>
        g.call('publishLoop', {
          url: sys.pubUrl,
          protocol: sys.protocol,
          channels: names,
          connections: C,
          durationMs,
          addrs: g.addrs,
          rotate: true,
        }),
      ),
    );
  // Warm-up, then measure from a clean slate (loss/order evidence is kept across the reset).
  const warm = await loop(warmupMs);
  await waitDelivered(gens, warm.reduce((s, r) => s + r.acked, 0) * perChannel, { timeoutMs: 30_000 });
  await Promise.all(gens.map((g) => g.call('reset')));
  const cpu0 = cpuOf(sys.pids);
  const pubs = await loop(T);
  const acked = pubs.reduce((s, r) => s + r.acked, 0);
  const expected = acked * perChannel;
  const delivered = await waitDelivered(gens, expected, { timeoutMs: 60_000, stallMs: 10_000 });
  const cpu1 = cpuOf(sys.pids);
  const stats = mergeStats(await Promise.all(gens.map((g) => g.call('stats'))));
  await Promise.all(gens.map((g) => g.call('closeAll')));
  const ack = new Histogram();
  for (const r of pubs) ack.merge(r.ack);
  const elapsed = Math.max(...pubs.map((r) => r.elapsedMs)) / 1000;
  return {
    opened,
    expectedSubscribers: K,
    openErrors,
    acked,
    publishFailed: pubs.reduce((s, r) => s + r.failed, 0),
    publishErrors: pubs.flatMap((r) => r.errors),
    publishesPerSec: acked / elapsed,
    ack: ack.summary(),
    expected,
    delivered,
    lost: expected - delivered,
    latency: stats.all.summary(),
    gaps: stats.counters.gaps,
    duplicates: stats.counters.duplicates,
    errorFrames: stats.counters.errorFrames,
    errorSamples: stats.counters.errorSamples,
    unexpectedCloses: stats.counters.unexpectedCloses,
    serverCpuS: cpu1 - cpu0,
  };
}

export async function chat(ctx) {
  const [a, b] = ctx.squall;
  const squall = await runOne(ctx, {
    key: 'squall',
    targets: [
      { url: a.wsUrl, label: 'A' },
      { url: b.wsUrl, label: 'B' },
    ],
    pubUrl: a.wsUrl,
    pids: [a.pid, b.pid],
  });
  const baseline = await runOne(ctx, {
    key: 'baseline',
    targets: [{ url: ctx.baseline.wsUrl, label: 'baseline' }],
    pubUrl: ctx.baseline.wsUrl,
    pids: [ctx.baseline.pid],
  });
  const socketio = await withSocketIo(ctx, 'chat', (server) => runOne(ctx, socketioSystem(server)));
  const s = squall;
  const bl = baseline;
  const rows = [
    { metric: 'subscribers connected', squall: s.opened, baseline: bl.opened, ratio: false, digits: 0 },
    {
      metric: 'deliveries received / expected',
      squall: `${s.delivered}/${s.expected}`,
      baseline: `${bl.delivered}/${bl.expected}`,
      ratio: false,
    },
    {
      metric: 'acked publishes/s',
      squall: s.publishesPerSec,
      baseline: bl.publishesPerSec,
      better: 'higher',
    },
    { metric: 'publish ack p50 (ms)', squall: s.ack.p50, baseline: bl.ack.p50, better: 'lower' },
    { metric: 'delivery latency p50 (ms)', squall: s.latency.p50, baseline: bl.latency.p50, better: 'lower' },
    { metric: 'delivery latency p99 (ms)', squall: s.latency.p99, baseline: bl.latency.p99, better: 'lower' },
    {
      metric: 'server CPU ms / 1k deliveries',
      squall: (s.serverCpuS * 1e6) / s.delivered,
      baseline: (bl.serverCpuS * 1e6) / bl.delivered,
      better: 'lower',
    },
    {
      metric: 'gaps / duplicates seen',
      squall: `${s.gaps}/${s.duplicates}`,
      baseline: `${bl.gaps}/${bl.duplicates}`,
      ratio: false,
    },
    {
      metric: 'unexpected closes',
      squall: closesText(s.unexpectedCloses),
      baseline: closesText(bl.unexpectedCloses),
      ratio: false,
    },
    {
      metric: 'error frames / failed publishes',
      squall: `${s.errorFrames}/${s.publishFailed}`,
      baseline: `${bl.errorFrames}/${bl.publishFailed}`,
      ratio: false,
    },
  ];
  const { channels: M, perChannel, publishers: C, durationMs: T } = ctx.cfg.chat;
  const notes = [
    `${M} channels × ${perChannel} subscribers over ${ctx.gens.length} load-generator processes; ${C} publishers (one process), each awaiting its ack, walking through all channels for ${T / 1000} s after a warm-up.`,
    'Squall: 2 instances, subscribers split evenly, publishers on A (half the rooms are reached through Redis); every publish is committed to Postgres before its ack and fan-out. Baseline: 1 bare ws process, in memory.',
    'Server CPU counts the Squall/baseline node processes only (not Postgres/Redis).',
  ];
  return { rows, notes, raw: { squall, baseline, socketio } };
}
