/**
 * Fan-out latency: K WebSocket subscribers on one channel, one publisher
 * sending P messages at a fixed rate with its send time in `data.ts`; every
 * delivery's latency is (receive time − send time). Squall runs two
 * instances with the subscribers split across both (the publisher is on A,
 * so B's subscribers are reached through Redis); the baseline is one bare
 * `ws` process.
 */
import { Histogram } from '../lib/hist.mjs';
import { split } from '../lib/loadgens.mjs';
import { socketioSystem, withSocketIo } from '../lib/socketio-reference.mjs';
import { closesText, cpuOf, mergeStats, waitDelivered } from './common.mjs';

async function runOne(ctx, sys) {
  const { gens, publisher, cfg } = ctx;
  const { subscribers: K, messages: P, rate: R, warmup: W } = cfg.fanout;
  const channel = `bench.${ctx.runId}.fan.${sys.key}`;
  const parts = split(K, gens.length);
  const opens = await Promise.all(
    gens.map((g, i) =>
      g.call('open', { targets: sys.targets, count: parts[i], channel, addrs: g.addrs, concurrency: 50 }),
    ),
  );
  const opened = opens.reduce((s, o) => s + o.opened, 0);
  const openMs = Math.max(...opens.map((o) => o.ms));
  const openErrors = opens.flatMap((o) => o.errors);
  ctx.log(`fanout ${sys.key}: ${opened}/${K} subscribed in ${(openMs / 1000).toFixed(1)} s`);

  // Warm-up (JIT, pools, Redis subscription), then measure from a clean slate.
  await publisher.call('publish', {
    url: sys.pubUrl,
    protocol: sys.protocol,
    channel,
    count: W,
    rate: R,
    addr: publisher.addrs[0],
  });
  await waitDelivered(gens, opened * W, { timeoutMs: 30_000 });
  await Promise.all(gens.map((g) => g.call('reset')));

  const cpu0 = cpuOf(sys.pids, sys.childrenOf);
  const pub = await publisher.call('publish', {
    url: sys.pubUrl,
    protocol: sys.protocol,
    channel,
    count: P,
    rate: R,
    addr: publisher.addrs[0],
  });
  const expected = opened * P;
  const delivered = await waitDelivered(gens, expected, { timeoutMs: 90_000, stallMs: 10_000 });
  const cpu1 = cpuOf(sys.pids, sys.childrenOf);
  const stats = mergeStats(await Promise.all(gens.map((g) => g.call('stats'))));
  await Promise.all(gens.map((g) => g.call('closeAll')));

  const windowS = (stats.lastRecv - pub.firstSend) / 1000;
  return {
    opened,
    openMs,
    openErrors,
    expected,
    delivered,
    lost: expected - delivered,
    latency: stats.all.summary(),
    byLabel: Object.fromEntries(Object.entries(stats.byLabel).map(([k, h]) => [k, h.summary()])),
    negativeLatencies: stats.all.negatives,
    deliveriesPerSec: stats.counters.delivered / windowS,
    offeredPerSec: opened * R,
    publishAck: Histogram.from(pub.ack).summary(),
    published: pub.acked,
    publishErrors: pub.errors,
    sendSpanMs: pub.sendSpanMs,
    gaps: stats.counters.gaps,
    duplicates: stats.counters.duplicates,
    errorFrames: stats.counters.errorFrames,
    errorSamples: stats.counters.errorSamples,
    unexpectedCloses: stats.counters.unexpectedCloses,
    serverCpuS: cpu1 - cpu0,
    cpuMsPer1kDeliveries: ((cpu1 - cpu0) * 1000) / (stats.counters.delivered / 1000),
  };
}

export async function fanout(ctx) {
  // cfg.fanout.instances: 1 puts every subscriber on A (the like-for-like step against one bare process).
  const [a, b] = ctx.cfg.fanout.instances === 1 ? [ctx.squall[0]] : ctx.squall;
  const squall = await runOne(ctx, {
    key: 'squall',
    targets: [{ url: a.wsUrl, label: 'A' }, ...(b ? [{ url: b.wsUrl, label: 'B' }] : [])],
    pubUrl: a.wsUrl,
    pids: b ? [a.pid, b.pid] : [a.pid],
    childrenOf: [],
  });
  const baseline = await runOne(ctx, {
    key: 'baseline',
    targets: [{ url: ctx.baseline.wsUrl, label: 'baseline' }],
    pubUrl: ctx.baseline.wsUrl,
    pids: [ctx.baseline.pid],
    childrenOf: [],
  });
  const socketio = await withSocketIo(ctx, 'fanout', (server) => runOne(ctx, socketioSystem(server)));
  const { subscribers: K, messages: P, rate: R } = ctx.cfg.fanout;
  const rows = [
    {
      metric: 'subscribers connected',
      squall: squall.opened,
      baseline: baseline.opened,
      better: '',
      ratio: false,
      digits: 0,
    },
    {
      metric: 'deliveries received / expected',
      squall: `${squall.delivered}/${squall.expected}`,
      baseline: `${baseline.delivered}/${baseline.expected}`,
      ratio: false,
    },
    {
      metric: 'latency p50 (ms)',
      squall: squall.latency.p50,
      baseline: baseline.latency.p50,
      better: 'lower',
    },
    {
      metric: 'latency p95 (ms)',
      squall: squall.latency.p95,
      baseline: baseline.latency.p95,
      better: 'lower',
    },
    {
      metric: 'latency p99 (ms)',
      squall: squall.latency.p99,
      baseline: baseline.latency.p99,
      better: 'lower',
    },
    {
      metric: 'latency max (ms)',
      squall: squall.latency.max,
      baseline: baseline.latency.max,
      better: 'lower',
    },
    {
      metric: '  p50 on A (publisher instance)',
      squall: squall.byLabel.A?.p50,
      baseline: baseline.latency.p50,
      better: 'lower',
    },
    {
      metric: '  p50 on B (via Redis)',
      squall: squall.byLabel.B?.p50,
      baseline: baseline.latency.p50,
      better: 'lower',
    },
    {
      metric: 'deliveries/s',
      squall: squall.deliveriesPerSec,
      baseline: baseline.deliveriesPerSec,
      better: 'higher',
    },
    {
      metric: 'publish ack p50 (ms)',
      squall: squall.publishAck.p50,
      baseline: baseline.publishAck.p50,
      better: 'lower',
    },
    { metric: 'server CPU (s)', squall: squall.serverCpuS, baseline: baseline.serverCpuS, better: 'lower' },
    {
      metric: 'server CPU ms / 1k deliveries',
      squall: squall.cpuMsPer1kDeliveries,
      baseline: baseline.cpuMsPer1kDeliveries,
      better: 'lower',
    },
    {
      metric: 'gaps / duplicates seen',
      squall: `${squall.gaps}/${squall.duplicates}`,
      baseline: `${baseline.gaps}/${baseline.duplicates}`,
      ratio: false,
    },
    {
      metric: 'unexpected closes',
      squall: closesText(squall.unexpectedCloses),
      baseline: closesText(baseline.unexpectedCloses),
      ratio: false,
    },
    {
      metric: 'error frames',
      squall: squall.errorFrames,
      baseline: baseline.errorFrames,
      ratio: false,
      digits: 0,
    },
  ];
  const notes = [
    `${K} subscribers on one channel over ${ctx.gens.length} load-generator processes; ${P} messages at ${R}/s (offered ${(K * R).toLocaleString('en-US')} deliveries/s) after a warm-up.`,
    'Squall: 2 instances, subscribers split evenly, publisher on A (B gets messages through Redis); each publish is committed to Postgres before fan-out. Baseline: 1 bare ws process, in memory.',
    "Latency = subscriber receive time − publisher send time (both on this machine's clock), so it includes the load generators' own event-loop delay.",
    'Server CPU counts the Squall/baseline node processes only (not Postgres/Redis).',
  ];
  return { rows, notes, raw: { squall, baseline, socketio } };
}
