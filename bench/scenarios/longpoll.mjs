/* global fetch */
/**
 * Long poll: N pending `GET /v1/channels/:ch/poll?after=<head>` spread over M
 * channels on one instance, then one REST publish per channel (all at once,
 * each carrying its send time); measures how long until every poll is
 * answered, round by round (a round's answered clients poll again in the
 * next one, as a real long-poll client does). Also RSS per pending poll, and
 * RSS once the polls are answered and the clients are gone. The baseline
 * server has a trivial in-memory long poll with the same URLs and answer
 * shape. Each side runs on a freshly started process; the polls come from
 * their own workers (lib/pollgen.mjs), which spread them over the channels.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from '../lib/hist.mjs';
import { LoadGen, split } from '../lib/loadgens.mjs';
import { rssKb } from '../lib/procs.mjs';
import { metric } from '../lib/stack.mjs';
import { cpuOf, now, runOnFreshPair, settledRss } from './common.mjs';

async function waitPending(server, target, timeoutMs) {
  const start = Date.now();
  for (;;) {
    const n = await metric(server, 'squall_hub_subscribers');
    if (n >= target) return n;
    if (Date.now() - start > timeoutMs) return n;
    // Not faster: with 10,000 sockets open one /metrics scrape costs the server ~30 ms of CPU (its
    // default process metrics list /proc/self/fd), which would count against Squall's CPU per poll.
    await sleep(250);
  }
}

/** One round: N polls over the channels, wait until all are pending, publish once per channel, collect the answers. */
async function round(ctx, server, chans, n) {
  const pollers = ctx.pollers;
  const parts = split(n, pollers.length);
  const problems = [];
  const base = await metric(server, 'squall_hub_subscribers');
  const issued = now();
  await Promise.all(
    pollers.map((g, i) =>
      g.call('pollStart', {
        base: server.url,
        channels: chans,
        offset: parts.slice(0, i).reduce((s, k) => s + k, 0),
        timeoutSec: 60,
        count: parts[i],
        addrs: g.addrs,
      }),
    ),
  );
  const pending = await waitPending(server, base + n, 60_000);
  const registerMs = now() - issued;
  if (pending < base + n) problems.push(`only ${pending - base}/${n} polls pending after 60 s`);
  await sleep(200); // let the last requests settle into their wait
  const rssPending = rssKb(server.pid);
  let publishFailed = 0;
  const publishStart = now();
  const next = await Promise.all(
    chans.map(async (ch) => {
      const ts = now();
      try {
        const res = await fetch(`${server.url}/v1/channels/${ch.name}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data: { ts } }),
        });
        const published = await res.json();
        if (res.status !== 201)
          throw new Error(`publish answered ${res.status}: ${JSON.stringify(published)}`);
        return { name: ch.name, after: published.seq ?? ch.after + 1 };
      } catch (err) {
        publishFailed++;
        if (publishFailed <= 3) problems.push(`publish to ${ch.name}: ${err.message}`);
        return { name: ch.name, after: ch.after + 1 };
      }
    }),
  );
  const results = await Promise.all(pollers.map((g) => g.call('pollWait', { timeoutMs: 70_000 })));
  const hist = new Histogram();
  let empty = 0;
  let lastRecv = -Infinity;
  let timedOut = 0;
  const statuses = {};
  for (const [i, x] of results.entries()) {
    if (x.timedOut) {
      timedOut += parts[i];
      problems.push('polls still open 70 s after the publish');
      continue;
    }
    hist.merge(x.hist);
    empty += x.empty;
    lastRecv = Math.max(lastRecv, x.lastRecv);
    for (const [s, k] of Object.entries(x.statuses)) statuses[s] = (statuses[s] ?? 0) + k;
    if (x.errors.length) problems.push(x.errors.join('; '));
  }
  const non200 = Object.entries(statuses).reduce((s, [code, k]) => s + (code === '200' ? 0 : k), 0);
  return {
    hist,
    registerMs,
    allAnsweredMs: lastRecv - publishStart,
    answered: hist.count,
    empty,
    statuses,
    errors: non200 + empty + timedOut + publishFailed,
    rssPending,
    problems,
    next,
  };
}

async function runOne(ctx, server, key) {
  const { polls: N, channels: M, rounds, warmup, settleMs } = ctx.cfg.longpoll;
  let chans = await Promise.all(
    Array.from({ length: M }, async (_, c) => {
      const name = `bench.${ctx.runId}.lp.${key}.${c}`;
      return { name, after: (await (await fetch(`${server.url}/v1/channels/${name}`)).json()).lastSeq };
    }),
  );
  const problems = [];
  // Optional warm-up rounds (JIT, pools, the channels' hub streams), not reported.
  for (let w = 0; w < warmup; w++) {
    const x = await round(ctx, server, chans, N);
    chans = x.next;
    problems.push(...x.problems.map((p) => `warm-up: ${p}`));
  }
  await sleep(settleMs);
  const rssBefore = await settledRss(server.pid, 3, settleMs / 2);
  const cpu0 = cpuOf([server.pid]);
  const hist = new Histogram();
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const x = await round(ctx, server, chans, N);
    chans = x.next;
    hist.merge(x.hist);
    problems.push(...x.problems.map((p) => `round ${r + 1}: ${p}`));
    perRound.push({
      registerMs: x.registerMs,
      allAnsweredMs: x.allAnsweredMs,
      answered: x.answered,
      empty: x.empty,
      errors: x.errors,
      statuses: x.statuses,
      wake: x.hist.summary(),
      rssPendingKb: x.rssPending,
    });
    ctx.log(
      `longpoll ${key} round ${r + 1}: ${x.answered}/${N} answered, wake p99 ${x.hist.quantile(0.99).toFixed(0)} ms, errors ${x.errors}`,
    );
  }
  const cpu1 = cpuOf([server.pid]);
  await sleep(settleMs);
  const rssAnswered = await settledRss(server.pid, 3, settleMs / 2);
  await Promise.all(ctx.pollers.map((g) => g.call('closeAgents')));
  await sleep(settleMs);
  const rssClosed = await settledRss(server.pid, 3, settleMs / 2);
  const rssGrowth = perRound[0].rssPendingKb - rssBefore;
  return {
    perRound,
    problems,
    answered: perRound.reduce((s, x) => s + x.answered, 0),
    expected: N * rounds,
    errors: perRound.reduce((s, x) => s + x.errors, 0),
    latency: hist.summary(),
    rssBeforeKb: rssBefore,
    rssPendingKb: perRound[0].rssPendingKb,
    // A garbage collection during registration can make the growth negative: then it says nothing.
    rssPerPendingKb: rssGrowth > 0 ? rssGrowth / N : NaN,
    rssAnsweredKb: rssAnswered,
    rssClosedKb: rssClosed,
    serverCpuS: cpu1 - cpu0,
    cpuMsPerPoll: ((cpu1 - cpu0) * 1000) / (N * rounds),
  };
}

/** Workers with two loopback source addresses each, from 127.0.0.60 up (the WebSocket load generators use .2–.17). */
function startPollers(n) {
  return Array.from(
    { length: n },
    (_, i) => new LoadGen(`poll${i}`, [`127.0.0.${60 + 2 * i}`, `127.0.0.${61 + 2 * i}`], 'lib/pollgen.mjs'),
  );
}

export async function longpoll(ctx) {
  const { polls: N, channels: M, rounds, workers, warmup } = ctx.cfg.longpoll;
  const pollers = startPollers(workers);
  let out;
  try {
    out = await runOnFreshPair({ ...ctx, pollers }, 'longpoll', runOne);
  } finally {
    await Promise.all(pollers.map((g) => g.stop().catch(() => undefined)));
  }
  const { squall, baseline } = out;
  const mb = (kb) => kb / 1024;
  const rows = [
    {
      metric: 'polls answered with the message / expected',
      squall: `${squall.answered}/${squall.expected}`,
      baseline: `${baseline.answered}/${baseline.expected}`,
      ratio: false,
    },
  ];
  for (let r = 0; r < rounds; r++) {
    const s = squall.perRound[r];
    const b = baseline.perRound[r];
    rows.push(
      {
        metric: `round ${r + 1}: time to register ${N} polls (ms)`,
        squall: s.registerMs,
        baseline: b.registerMs,
        better: 'lower',
      },
      { metric: `round ${r + 1}: wake p50 (ms)`, squall: s.wake.p50, baseline: b.wake.p50, better: 'lower' },
      { metric: `round ${r + 1}: wake p99 (ms)`, squall: s.wake.p99, baseline: b.wake.p99, better: 'lower' },
      {
        metric: `round ${r + 1}: publish → ALL answered (ms)`,
        squall: s.allAnsweredMs,
        baseline: b.allAnsweredMs,
        better: 'lower',
      },
      { metric: `round ${r + 1}: errors`, squall: s.errors, baseline: b.errors, ratio: false, digits: 0 },
    );
  }
  rows.push(
    {
      metric: 'errors (non-200, empty answers, failed publishes)',
      squall: squall.errors,
      baseline: baseline.errors,
      ratio: false,
      digits: 0,
    },
    {
      metric: 'server CPU per poll (ms)',
      squall: squall.cpuMsPerPoll,
      baseline: baseline.cpuMsPerPoll,
      better: 'lower',
    },
    {
      metric: 'RSS before the first round (MiB)',
      squall: mb(squall.rssBeforeKb),
      baseline: mb(baseline.rssBeforeKb),
      better: 'lower',
    },
    {
      metric: `RSS with ${N} pending, round 1 (MiB)`,
      squall: mb(squall.rssPendingKb),
      baseline: mb(baseline.rssPendingKb),
      better: 'lower',
    },
    {
      metric: 'RSS per pending poll (KiB)',
      squall: squall.rssPerPendingKb,
      baseline: baseline.rssPerPendingKb,
      better: 'lower',
    },
    {
      metric: 'RSS after answered, keep-alive open (MiB)',
      squall: mb(squall.rssAnsweredKb),
      baseline: mb(baseline.rssAnsweredKb),
      better: 'lower',
    },
    {
      metric: 'RSS after answered, clients gone (MiB)',
      squall: mb(squall.rssClosedKb),
      baseline: mb(baseline.rssClosedKb),
      better: 'lower',
    },
  );
  const notes = [
    `${N} long polls over ${M} channels from ${workers} poll workers (keep-alive HTTP/1.1), ${rounds} measured round(s)${warmup ? ` after ${warmup} warm-up round(s)` : ' on a fresh process (round 1 is the first)'}; each round: all N pending, then one REST publish per channel, all at once. Fresh Squall instance (its publish includes the Postgres commit) vs the bare server's trivial in-memory long poll.`,
    'Wake = answer received − that channel\'s publish send time; "time to register" = first poll sent → server reports all N waiting (squall_hub_subscribers); "ALL answered" = first publish sent → last poll answered.',
    `RSS per pending poll = (VmRSS with N pending in round 1 − VmRSS before round 1) / N (n/a when a GC made it negative). "Clients gone" = ${ctx.cfg.longpoll.settleMs / 1000} s after the poll workers closed their keep-alive sockets.`,
  ];
  if (squall.problems.length) notes.push(`squall problems: ${squall.problems.join(' | ')}`);
  if (baseline.problems.length) notes.push(`baseline problems: ${baseline.problems.join(' | ')}`);
  return { rows, notes, raw: { squall, baseline } };
}
