/**
 * Idle connections: N WebSocket connections, each subscribed to one of M
 * channels, held open on a freshly started server; reports the server's RSS
 * growth per connection (VmRSS before: the median of three reads; with all connected: the lowest read over the idle hold)
 * and how fast the connections were opened and subscribed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { split } from '../lib/loadgens.mjs';
import { rssKb } from '../lib/procs.mjs';
import { withSocketIo } from '../lib/socketio-reference.mjs';
import { closesText, cpuOf, lowestRss, mergeStats, runOnFreshPair, settledRss } from './common.mjs';

async function runOne(ctx, server, key) {
  const { connections: N, channels: M, holdMs, settleMs } = ctx.cfg.idle;
  const gens = ctx.gens;
  const parts = split(N, gens.length);
  await sleep(settleMs); // a fresh process: let startup allocations settle before the first RSS read
  const rssBefore = await settledRss(server.pid);
  const cpu0 = cpuOf([server.pid]);
  let offset = 0;
  const opens = await Promise.all(
    gens.map((g, i) => {
      const args = {
        targets: [{ url: server.wsUrl, label: key, protocol: server.protocol }],
        count: parts[i],
        channelPrefix: `bench.${ctx.runId}.idle.${key}.`,
        channelMod: M,
        channelOffset: offset,
        addrs: g.addrs,
        concurrency: 50,
      };
      offset += parts[i];
      return g.call('open', args, 300_000);
    }),
  );
  const cpu1 = cpuOf([server.pid]);
  const opened = opens.reduce((s, o) => s + o.opened, 0);
  const openMs = Math.max(...opens.map((o) => o.ms));
  ctx.log(`idle ${key}: ${opened}/${N} connections subscribed in ${(openMs / 1000).toFixed(1)} s`);
  const rssAfter = await lowestRss(server.pid, holdMs);
  const stats = mergeStats(await Promise.all(gens.map((g) => g.call('stats'))));
  await Promise.all(gens.map((g) => g.call('closeAll', {}, 120_000)));
  await sleep(settleMs / 2);
  const rssClosed = rssKb(server.pid);
  return {
    opened,
    failed: opens.reduce((s, o) => s + o.failed, 0),
    openErrors: opens.flatMap((o) => o.errors),
    stillOpen: stats.open,
    unexpectedCloses: stats.counters.unexpectedCloses,
    subscribesPerSec: opened / (openMs / 1000),
    rssBeforeKb: rssBefore,
    rssAfterKb: rssAfter,
    rssAfterCloseKb: rssClosed,
    rssPerConnKb: (rssAfter - rssBefore) / opened,
    connectCpuS: cpu1 - cpu0,
  };
}

export async function idle(ctx) {
  const { squall, baseline } = await runOnFreshPair(ctx, 'idle', runOne);
  const socketio = await withSocketIo(ctx, 'idle', (server) => runOne(ctx, server, 'socketio'));
  const { connections: N, channels: M, holdMs } = ctx.cfg.idle;
  const mb = (kb) => kb / 1024;
  const rows = [
    {
      metric: 'connections subscribed / requested',
      squall: `${squall.opened}/${N}`,
      baseline: `${baseline.opened}/${N}`,
      ratio: false,
    },
    {
      metric: `still open after ${holdMs / 1000} s idle`,
      squall: squall.stillOpen,
      baseline: baseline.stillOpen,
      ratio: false,
      digits: 0,
    },
    {
      metric: 'connect+subscribe rate (conn/s)',
      squall: squall.subscribesPerSec,
      baseline: baseline.subscribesPerSec,
      better: 'higher',
    },
    {
      metric: 'server CPU while connecting (s)',
      squall: squall.connectCpuS,
      baseline: baseline.connectCpuS,
      better: 'lower',
    },
    {
      metric: 'RSS before (MiB)',
      squall: mb(squall.rssBeforeKb),
      baseline: mb(baseline.rssBeforeKb),
      better: 'lower',
    },
    {
      metric: `RSS with ${N} idle (MiB)`,
      squall: mb(squall.rssAfterKb),
      baseline: mb(baseline.rssAfterKb),
      better: 'lower',
    },
    {
      metric: 'RSS per connection (KiB)',
      squall: squall.rssPerConnKb,
      baseline: baseline.rssPerConnKb,
      better: 'lower',
    },
    {
      metric: 'RSS 1 s after all closed (MiB)',
      squall: mb(squall.rssAfterCloseKb),
      baseline: mb(baseline.rssAfterCloseKb),
      ratio: false,
    },
    {
      metric: 'unexpected closes',
      squall: closesText(squall.unexpectedCloses),
      baseline: closesText(baseline.unexpectedCloses),
      ratio: false,
    },
  ];
  const notes = [
    `${N} connections over ${ctx.gens.length} load-generator processes and ${ctx.gens.length * 2} source addresses, each subscribed to one of ${M} channels (${N / M} per channel); one fresh server process each.`,
    "Squall keeps a per-channel Redis subscription and reads each new channel's head from Postgres once; the baseline keeps a Set per channel.",
    'RSS after close is not a leak test: V8 and malloc keep freed memory.',
  ];
  return { rows, notes, raw: { squall, baseline, socketio } };
}
