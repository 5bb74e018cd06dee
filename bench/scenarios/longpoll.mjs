/* global fetch */
/**
 * Long poll: N pending `GET /v1/channels/:ch/poll?after=<head>` on one
 * instance, then one publish (REST POST to the same instance); measures how
 * long until every poll is answered, per round. The baseline server has a
 * trivial in-memory long poll with the same URL and answer shape, so the
 * ratio compares like with like. Each side runs on a freshly started process
 * (after a small warm-up round), so its memory reading means something.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from '../lib/hist.mjs';
import { split } from '../lib/loadgens.mjs';
import { rssKb } from '../lib/procs.mjs';
import { metric } from '../lib/stack.mjs';
import { cpuOf, now, runOnFreshPair, settledRss } from './common.mjs';

async function waitPending(server, target, timeoutMs) {
  const start = Date.now();
  for (;;) {
    const n = await metric(server, 'squall_hub_subscribers');
    if (n >= target) return n;
    if (Date.now() - start > timeoutMs) return n;
    await sleep(50);
  }
}

/** One round: N polls, wait until all are pending, publish once, collect the answers. */
async function round(ctx, server, channel, after, n) {
  const gens = ctx.gens;
  const parts = split(n, gens.length);
  const problems = [];
  const base = await metric(server, 'squall_hub_subscribers');
  const issued = now();
  await Promise.all(
    gens.map((g, i) =>
      g.call('pollStart', {
        base: server.url,
        channel,
        after,
        timeoutSec: 60,
        count: parts[i],
        addrs: g.addrs,
      }),
    ),
  );
  const pending = await waitPending(server, base + n, 30_000);
  const registerMs = now() - issued;
  if (pending < base + n) problems.push(`only ${pending - base}/${n} polls pending after 30 s`);
  await sleep(200); // let the last requests settle into their wait
  const rssPending = rssKb(server.pid);
  const ts = now();
  const res = await fetch(`${server.url}/v1/channels/${channel}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: { ts } }),
  });
  const published = await res.json();
  if (res.status !== 201) problems.push(`publish answered ${res.status}`);
  const results = await Promise.all(gens.map((g) => g.call('pollWait', { timeoutMs: 70_000 })));
  const hist = new Histogram();
  let empty = 0;
  let lastRecv = -Infinity;
  const statuses = {};
  for (const x of results) {
    if (x.timedOut) {
      problems.push('polls still open 70 s after the publish');
      continue;
    }
    hist.merge(x.hist);
    empty += x.empty;
    lastRecv = Math.max(lastRecv, x.lastRecv);
    for (const [s, k] of Object.entries(x.statuses)) statuses[s] = (statuses[s] ?? 0) + k;
    if (x.errors.length) problems.push(x.errors.join('; '));
  }
  return {
    hist,
    registerMs,
    allAnsweredMs: lastRecv - ts,
    answered: hist.count,
    empty,
    statuses,
    rssPending,
    problems,
    nextAfter: published.seq ?? after + 1,
  };
}

async function runOne(ctx, server, key) {
  const { polls: N, rounds } = ctx.cfg.longpoll;
  const channel = `bench.${ctx.runId}.lp.${key}`;
  let after = (await (await fetch(`${server.url}/v1/channels/${channel}`)).json()).lastSeq;
  // Warm-up round (JIT, pools, the channel's hub stream), not reported.
  const warm = await round(ctx, server, channel, after, N);
  after = warm.nextAfter;
  await sleep(1000);
  const rssBefore = await settledRss(server.pid);
  const cpu0 = cpuOf([server.pid]);
  const hist = new Histogram();
  const perRound = [];
  const problems = warm.problems.map((p) => `warm-up: ${p}`);
  for (let r = 0; r < rounds; r++) {
    const x = await round(ctx, server, channel, after, N);
    after = x.nextAfter;
    hist.merge(x.hist);
    problems.push(...x.problems.map((p) => `round ${r}: ${p}`));
    perRound.push({
      registerMs: x.registerMs,
      allAnsweredMs: x.allAnsweredMs,
      answered: x.answered,
      empty: x.empty,
      statuses: x.statuses,
      rssPendingKb: x.rssPending,
    });
  }
  const cpu1 = cpuOf([server.pid]);
  await Promise.all(ctx.gens.map((g) => g.call('closeAgents')));
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rssGrowth = perRound[0].rssPendingKb - rssBefore;
  return {
    perRound,
    problems,
    answered: perRound.reduce((s, x) => s + x.answered, 0),
    expected: N * rounds,
    latency: hist.summary(),
    allAnsweredMedianMs: med(perRound.map((x) => x.allAnsweredMs)),
    registerMedianMs: med(perRound.map((x) => x.registerMs)),
    rssBeforeKb: rssBefore,
    rssPendingKb: perRound[0].rssPendingKb,
    // A garbage collection during registration can make the growth negative: then it says nothing.
    rssPerPendingKb: rssGrowth > 0 ? rssGrowth / N : NaN,
    serverCpuS: cpu1 - cpu0,
    cpuMsPerPoll: ((cpu1 - cpu0) * 1000) / (N * rounds),
  };
}

export async function longpoll(ctx) {
  const { squall, baseline } = await runOnFreshPair(ctx, 'longpoll', runOne);
  const { polls: N, rounds } = ctx.cfg.longpoll;
  const rows = [
    {
      metric: 'polls answered with the message / expected',
      squall: `${squall.answered}/${squall.expected}`,
      baseline: `${baseline.answered}/${baseline.expected}`,
      ratio: false,
    },
    {
      metric: `time to register ${N} polls, median (ms)`,
      squall: squall.registerMedianMs,
      baseline: baseline.registerMedianMs,
      better: 'lower',
    },
    {
      metric: 'publish → ALL answered, median round (ms)',
      squall: squall.allAnsweredMedianMs,
      baseline: baseline.allAnsweredMedianMs,
      better: 'lower',
    },
    {
      metric: 'publish → answer p50 (ms)',
      squall: squall.latency.p50,
      baseline: baseline.latency.p50,
      better: 'lower',
    },
    {
      metric: 'publish → answer p99 (ms)',
      squall: squall.latency.p99,
      baseline: baseline.latency.p99,
      better: 'lower',
    },
    {
      metric: 'server CPU per poll (ms)',
      squall: squall.cpuMsPerPoll,
      baseline: baseline.cpuMsPerPoll,
      better: 'lower',
    },
    {
      metric: `RSS with ${N} pending (MiB)`,
      squall: squall.rssPendingKb / 1024,
      baseline: baseline.rssPendingKb / 1024,
      better: 'lower',
    },
    {
      metric: 'RSS growth per pending poll (KiB)',
      squall: squall.rssPerPendingKb,
      baseline: baseline.rssPerPendingKb,
      better: 'lower',
    },
  ];
  const notes = [
    `${N} long polls over ${ctx.gens.length} load-generator processes (keep-alive HTTP/1.1), ${rounds} measured rounds after a warm-up round of the same size; one REST publish per round, to the same process. Fresh Squall instance (its publish includes the Postgres commit) vs the bare server's trivial in-memory long poll.`,
    '"Time to register" = first poll request sent → server reports all N waiting (squall_hub_subscribers on /metrics); "ALL answered" = publish sent → last answer received.',
    'RSS growth = VmRSS with N pending − VmRSS before the round (n/a when a GC made it negative).',
  ];
  if (squall.problems.length) notes.push(`squall problems: ${squall.problems.join(' | ')}`);
  if (baseline.problems.length) notes.push(`baseline problems: ${baseline.problems.join(' | ')}`);
  return { rows, notes, raw: { squall, baseline } };
}
