/* global fetch, performance */
/**
 * Jobs end to end against bare BullMQ, in the same run on the same machine,
 * plus the cost per job (Postgres statements, Redis commands). A scenario of
 * bench/run.mjs (`jobs`); bench/jobs.mjs is the stand-alone entry with its own
 * options (--jobs, --clients, --steps, --monitor, --submit-only).
 *
 * - bare: BullMQ `Queue.add` from `clients` concurrent loops, one `Worker`
 *   (concurrency 10, as WORKER_CONCURRENCY) whose processor does nothing.
 * - squall: an api and a worker process; `clients` loops POST /v1/jobs
 *   `test.sleep {ms: 0, steps}` until `jobs` are submitted; done when every
 *   row is completed (read from Postgres every 100 ms). `test.sleep` is the
 *   test suite's job type (src/jobs/testing, built by `npm run build:testing`),
 *   loaded through TEST_MODULES, so the bench does not depend on the demo.
 *   TEST_MODULES is ignored in production, so these instances run with
 *   NODE_ENV=test (JSON logs like production; the board is turned off).
 *
 * Cost per job: Postgres transactions committed on the database
 * (`pg_stat_database.xact_commit`, every statement here runs in its own,
 * less this script's own polls) and Redis commands (`INFO commandstats`),
 * deltas over the squall run, divided by `jobs`; background work (reconciler
 * passes, heartbeats) is included, so it is an upper bound.
 */
import process from 'node:process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, problemLines, startSquall } from '../lib/stack.mjs';

// Sizes, set by configure() (bench/jobs.mjs from its options, the `jobs` scenario from run.mjs's config).
let JOBS = 3000;
let CLIENTS = 32;
let STEPS = 10;
/** How long the squall run may take until every job is completed; past it the run fails. */
let DEADLINE_MS = 10 * 60_000;
let log = (m) => process.stderr.write(`${m}\n`);

export function configure({ jobs, clients, steps, deadlineMs, logger }) {
  JOBS = jobs ?? JOBS;
  CLIENTS = clients ?? CLIENTS;
  STEPS = steps ?? STEPS;
  DEADLINE_MS = deadlineMs ?? DEADLINE_MS;
  log = logger ?? log;
}

/** Redis calls per command, `info` (this script's) left out. */
async function redisCalls(redis) {
  const text = await redis.info('commandstats');
  const calls = new Map();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    if (m[1] !== 'info') calls.set(m[1], Number(m[2]));
  return calls;
}

/** CPU seconds (user + system) of these processes and, with `children`, of their children (Postgres backends). */
function cpuSeconds(pids, { children = false } = {}) {
  const all = new Set(pids.filter(Boolean));
  if (children) {
    for (const dir of readdirSync('/proc')) {
      if (!/^\d+$/.test(dir)) continue;
      try {
        const stat = readFileSync(`/proc/${dir}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (all.has(ppid)) all.add(Number(dir));
      } catch {
        /* gone */
      }
    }
  }
  let ticks = 0;
  for (const pid of all) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      /* gone */
    }
  }
  return ticks / 100; // USER_HZ
}

const total = (calls) => [...calls.values()].reduce((a, b) => a + b, 0);

async function loops(n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

export async function bare(infra) {
  const prefix = `bare-${randomBytes(3).toString('hex')}`;
  // BullMQ does not close connections it was given: they are closed below, before Redis stops.
  const conns = [0, 1].map(() => new Redis(infra.redisUrl, { maxRetriesPerRequest: null }));
  const queue = new Queue('bare', { connection: conns[0], prefix });
  let done = 0;
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  const worker = new Worker('bare', async () => undefined, {
    connection: conns[1],
    prefix,
    concurrency: 10,
  });
  worker.on('completed', () => ++done === JOBS && resolveAll());
  const stats = new Redis(infra.redisUrl);
  const r0 = await redisCalls(stats);
  const redisCpu0 = cpuSeconds([infra.redisPid?.()]);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await loops(JOBS, (i) => queue.add('noop', { i }, { removeOnComplete: { count: 1000 } }));
  await all;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const redisCpu = cpuSeconds([infra.redisPid?.()]) - redisCpu0;
  const commands = total(await redisCalls(stats)) - total(r0);
  stats.disconnect();
  await worker.close();
  await queue.close();
  for (const c of conns) c.disconnect();
  // This process is both the producer and the worker.
  return {
    rate: JOBS / seconds,
    commands: commands / JOBS,
    cpuMsPerJob: { node: (cpu.user + cpu.system) / 1000 / JOBS, redis: (redisCpu * 1000) / JOBS },
  };
}

/** The compiled test job module in the bench's dist snapshot. */
const TEST_JOBS = join(DIST, 'jobs', 'testing', 'test-jobs.module.js');
const JOB = (steps) => JSON.stringify({ type: 'test.sleep', payload: { ms: 0, steps } });

export async function squall(infra) {
  if (!existsSync(TEST_JOBS)) throw new Error(`${TEST_JOBS} missing: run \`npm run build:testing\` first`);
  const env = {
    JOB_RECONCILE_INTERVAL_MS: '5000',
    NODE_ENV: 'test',
    BULL_BOARD_ENABLED: 'false',
    TEST_MODULES: TEST_JOBS,
  };
  // BENCH_CPU_PROF=<dir> profiles both (startSquall adds the flags).
  const api = await startSquall('api', infra, { ...env, ROLE: 'api' });
  // --submit-only: no worker, to see what the submit path alone sustains.
  const submitOnly = process.argv.includes('--submit-only');
  const worker = submitOnly ? undefined : await startSquall('worker', infra, { ...env, ROLE: 'worker' });
  const db = new pg.Client({ connectionString: infra.databaseUrl });
  db.on('error', (err) => log(`bench's Postgres client: ${err.message}`)); // Postgres stopping at the end
  await db.connect();
  const redis = new Redis(infra.redisUrl);
  const dbName = new URL(infra.databaseUrl).pathname.slice(1);
  const xacts = async () =>
    Number(
      (await db.query('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [dbName]))
        .rows[0].n,
    );
  // Warm up (connections, prepared paths), then measure.
  await fetch(`${api.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JOB(STEPS),
  });
  await sleep(1000);
  const ids = [];
  // Row updates of `jobs`, and how many were HOT (no index touched).
  const updates = async () => {
    await sleep(1100); // cumulative statistics reach the view within a second
    const { rows } = await db.query(
      `SELECT n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relname = 'jobs'`,
    );
    return rows[0];
  };
  // --pg-stats: the statements' own cost (needs pg_stat_statements in shared_preload_libraries).
  const pgStats = process.argv.includes('--pg-stats')
    ? await db
        .query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
        .then(() => db.query('SELECT pg_stat_statements_reset()'))
        .then(
          () => true,
          (err) => log(`--pg-stats: ${err.message}`),
        )
    : false;
  const u0 = await updates();
  const x0 = await xacts();
  const r0 = await redisCalls(redis);
  // --monitor: count the commands clients send (round trips, pipelines aside),
  // leaving out those BullMQ's Lua scripts run inside Redis. MONITOR slows Redis: rates are then off.
  let clientCommands = 0;
  const monitor = process.argv.includes('--monitor') ? await new Redis(infra.redisUrl).monitor() : undefined;
  monitor?.on('monitor', (_time, _args, source) => {
    if (source !== 'lua') clientCommands++;
  });
  let polls = 0;
  const cpuOf = () => ({
    api: cpuSeconds([api.pid]),
    worker: cpuSeconds([worker?.pid]),
    postgres: cpuSeconds([infra.postgresPid?.()], { children: true }),
    redis: cpuSeconds([infra.redisPid?.()]),
  });
  const c0 = cpuOf();
  const started = performance.now();
  await loops(JOBS, async () => {
    const res = await fetch(`${api.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JOB(STEPS),
    });
    if (res.status !== 202)
      throw new Error(`submit answered ${res.status}: ${await res.text()}\n${api.output().slice(-3000)}`);
    ids.push((await res.json()).id);
  });
  const submitSeconds = (performance.now() - started) / 1000;
  for (;;) {
    if (submitOnly) break;
    polls++;
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND state = 'completed'`,
      [ids],
    );
    if (rows[0].n === JOBS) break;
    if (performance.now() - started > DEADLINE_MS) {
      const { rows: states } = await db.query(
        `SELECT state, count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) GROUP BY state`,
        [ids],
      );
      throw new Error(
        `only ${rows[0].n} of ${JOBS} jobs completed after ${DEADLINE_MS / 1000} s: ${JSON.stringify(states)}\n${worker?.output().slice(-3000)}`,
      );
    }
    await sleep(100);
  }
  const seconds = (performance.now() - started) / 1000;
  const c1 = cpuOf();
  const cpuMsPerJob = Object.fromEntries(
    Object.keys(c1).map((k) => [k, Number((((c1[k] - c0[k]) * 1000) / JOBS).toFixed(3))]),
  );
  const statements = (await xacts()) - x0 - polls - 1;
  if (pgStats) {
    const { rows } = await db.query(
      `SELECT calls, rows, round(total_exec_time::numeric, 1) AS total_ms, round(total_plan_time::numeric, 1) AS plan_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
         shared_blks_hit + shared_blks_read AS blks, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
       FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
    );
    for (const r of rows) log(`pg: ${JSON.stringify(r)}`);
  }
  const u1 = await updates();
  const r1 = await redisCalls(redis);
  monitor?.disconnect();
  const commands = total(r1) - total(r0);
  const byCommand = Object.fromEntries(
    [...r1]
      .map(([k, v]) => [k, Number(((v - (r0.get(k) ?? 0)) / JOBS).toFixed(2))])
      .filter(([, v]) => v >= 0.05)
      .sort((a, b) => b[1] - a[1]),
  );
  await db.end();
  redis.disconnect();
  const exits = await Promise.all([api.stop(), worker?.stop()]);
  // Evidence for --smoke: both processes stop cleanly and log no warning or error.
  const problems = [];
  for (const [i, p] of [api, worker].entries()) {
    if (!p) continue;
    const st = exits[i];
    if (st.code !== 0 || st.forced)
      problems.push(`squall ${p.name} did not stop cleanly: ${JSON.stringify(st)}`);
    const lines = problemLines(p.output());
    if (lines.length)
      problems.push(
        `squall ${p.name} logged ${lines.length} warn/error line(s); first: ${JSON.stringify(lines[0]).slice(0, 400)}`,
      );
  }
  return {
    problems,
    cpuMsPerJob,
    clientCommands: monitor ? clientCommands / JOBS : undefined,
    jobUpdates: (u1.upd - u0.upd) / JOBS,
    hotShare: (u1.hot - u0.hot) / Math.max(1, u1.upd - u0.upd),
    submitRate: JOBS / submitSeconds,
    rate: JOBS / seconds,
    statements: statements / JOBS,
    commands: commands / JOBS,
    byCommand,
  };
}

/** The stand-alone summary of one bare + squall pair (what bench/jobs.mjs prints as JSON). */
export async function summarize(b, s) {
  return {
    jobs: JOBS,
    clients: CLIENTS,
    steps: STEPS,
    loadAvg: (await import('node:os')).loadavg().map((x) => Number(x.toFixed(2))),
    bareJobsPerSec: Math.round(b.rate),
    squallJobsPerSec: Math.round(s.rate),
    squallSubmitsPerSec: Math.round(s.submitRate),
    ratio: Number((s.rate / b.rate).toFixed(3)),
    // CPU per job is steadier than rates on a shared machine: the ratio of totals says the same thing.
    bareCpuMsPerJob: Object.fromEntries(
      Object.entries(b.cpuMsPerJob).map(([k, v]) => [k, Number(v.toFixed(3))]),
    ),
    squallCpuMsPerJob: s.cpuMsPerJob,
    cpuRatio: Number(
      (
        (b.cpuMsPerJob.node + b.cpuMsPerJob.redis) /
        Object.values(s.cpuMsPerJob).reduce((a, v) => a + v, 0)
      ).toFixed(3),
    ),
    pgStatementsPerJob: Number(s.statements.toFixed(2)),
    jobRowUpdatesPerJob: Number(s.jobUpdates.toFixed(2)),
    hotUpdateShare: Number(s.hotShare.toFixed(2)),
    redisCommandsPerJob: Number(s.commands.toFixed(2)),
    bareRedisCommandsPerJob: Number(b.commands.toFixed(2)),
    redisClientCommandsPerJob: s.clientCommands && Number(s.clientCommands.toFixed(2)),
    redisCommandsPerJobByCommand: s.byCommand,
    problems: s.problems,
  };
}

/**
 * The `jobs` scenario of run.mjs: bare BullMQ, then Squall (its own fresh api
 * and worker processes), on the bench's Postgres and Redis.
 */
export async function jobs(ctx) {
  const { jobs: n, clients, steps } = ctx.cfg.jobs;
  configure({
    jobs: n,
    clients,
    steps,
    deadlineMs: ctx.cfg.jobs.deadlineMs,
    logger: (m) => ctx.log(`jobs: ${m}`),
  });
  ctx.log(`jobs bare: ${n} no-op jobs through BullMQ, ${clients} clients`);
  const b = await bare(ctx.infra);
  ctx.log(`jobs bare: ${b.rate.toFixed(0)} jobs/s; squall: api + worker, ${n} test.sleep jobs`);
  const s = await squall(ctx.infra);
  const sum = await summarize(b, s);
  const squallCpu = Object.values(s.cpuMsPerJob).reduce((a, v) => a + v, 0);
  const rows = [
    { metric: 'jobs/s, submit → all completed', squall: s.rate, baseline: b.rate, better: 'higher' },
    { metric: 'submits/s (squall api)', squall: s.submitRate, baseline: '-', ratio: false },
    {
      metric: 'CPU ms per job, all processes',
      squall: squallCpu,
      baseline: b.cpuMsPerJob.node + b.cpuMsPerJob.redis,
      better: 'lower',
    },
    {
      metric: '  api / worker / Postgres / Redis',
      squall: ['api', 'worker', 'postgres', 'redis'].map((k) => s.cpuMsPerJob[k].toFixed(2)).join(' / '),
      baseline: `node ${b.cpuMsPerJob.node.toFixed(2)} / redis ${b.cpuMsPerJob.redis.toFixed(2)}`,
      ratio: false,
    },
    { metric: 'Postgres statements per job', squall: s.statements, baseline: '-', ratio: false },
    { metric: '`jobs` row updates per job', squall: s.jobUpdates, baseline: '-', ratio: false },
    { metric: 'Redis commands per job', squall: s.commands, baseline: '-', ratio: false },
  ];
  const notes = [
    `${n} jobs from ${clients} concurrent clients. Baseline: bare BullMQ in the bench process, Queue.add + a Worker (concurrency 10) whose processor does nothing. Squall: POST /v1/jobs test.sleep {ms: 0, steps: ${steps}} to an api process, run by a worker process; done when every row is completed in Postgres.`,
    'Squall keeps each job in Postgres (state, progress, events) and publishes its events on job:<id>; the bare run keeps nothing outside Redis.',
    'CPU ms per job from /proc: Squall api + worker + every Postgres backend + redis-server; bare: the bench process + redis-server.',
  ];
  return { rows, notes, raw: { bare: b, squall: s, summary: sum } };
}
