#!/usr/bin/env node
/**
 * Squall benchmarks: each scenario runs against Squall and against a bare
 * `ws` baseline server started in the same process tree, and prints the
 * ratio squall/baseline next to absolute numbers (absolute times drift on
 * shared machines; the ratio is what to compare between runs).
 *
 *   npm run bench                   # build, then the full run (~12-15 min on 2 cores; it prints its estimate)
 *   node bench/run.mjs --quick      # smaller sizes, a few minutes (needs a prior build)
 *   node bench/run.mjs --smoke      # tiny sizes, correctness only (CI): exits 1 on any failure or problem
 *   node bench/run.mjs --only=fanout,longpoll
 *   node bench/run.mjs --only=fanout --set=fanout.sizes=2000 --set=fanout.rates=20000,50000
 *   node bench/run.mjs --charts-to=docs/bench   # also copy each scenario's SVG chart there
 *   node bench/run.mjs --no-socketio  # skip the Socket.IO reference (idle, fanout, chat: an extra "vs Socket.IO" table)
 *
 * Loopback only. Starts an embedded Postgres (.squall/bench-pg) and a
 * redis-server unless DATABASE_URL / REDIS_URL are set, Squall instances
 * (`node dist/main.js`), the baseline and load-generator workers; stops
 * exactly those (by PID) on the way out, also on errors and signals.
 * Results: stdout, .squall/bench-results.json (smoke: bench-smoke-results.json)
 * and, per scenario, a JSON file and an SVG chart in .squall/bench/<run-id>/.
 * The run ends with the issue 11 targets: each scenario's ratio, met or missed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';
import { startLoadGens } from './lib/loadgens.mjs';
import { killAllSync, openFiles, tracked } from './lib/procs.mjs';
import { ratioChart } from './lib/chart.mjs';
import { startBar } from './lib/progress.mjs';
import { markdownTable, printTable } from './lib/report.mjs';
import { evaluateTargets, printTargets, specsFor, targetsMarkdown } from './lib/targets.mjs';
import {
  ROOT,
  metric,
  problemLines,
  snapshotDist,
  startBaseline,
  startInfra,
  startSquall,
} from './lib/stack.mjs';
import { chat } from './scenarios/chat.mjs';
import { durable } from './scenarios/durable.mjs';
import { fanoutSteps } from './scenarios/fanout-steps.mjs';
import { idle } from './scenarios/idle.mjs';
import { jobs } from './scenarios/jobs.mjs';
import { longpoll } from './scenarios/longpoll.mjs';
import { throughput } from './scenarios/throughput.mjs';
import { reportSocketIo } from './lib/socketio-reference.mjs';

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const quick = argv.includes('--quick');
const mode = smoke ? 'smoke' : quick ? 'quick' : 'full';
const onlyArg = argv.find((a) => a.startsWith('--only='));
const chartsTo = argv.find((a) => a.startsWith('--charts-to='))?.slice('--charts-to='.length);
const ORDER = ['fanout', 'fanout2', 'chat', 'throughput', 'durable', 'jobs', 'longpoll', 'idle'];
const SCENARIOS = {
  fanout: (ctx) => fanoutSteps(ctx, 'fanout'),
  fanout2: (ctx) => fanoutSteps(ctx, 'fanout2'),
  chat,
  throughput,
  durable,
  jobs,
  longpoll,
  idle,
};
const selected = onlyArg ? onlyArg.slice('--only='.length).split(',').filter(Boolean) : ORDER;
for (const s of selected) {
  if (!SCENARIOS[s]) {
    console.error(`unknown scenario "${s}"; choose from ${ORDER.join(', ')}`);
    process.exit(2);
  }
}

// Sizes per mode. Full: issue 11's rows (fan-out 1,000 / 5,000 on one instance and 10,000 over two,
// long polls 10,000 over 100 channels in two rounds, idle 15,000 and 19,000, chat 1,000 x 5, jobs).
const CONFIG = {
  full: {
    loadGens: 8,
    fanout: {
      sizes: [1000, 5000],
      instances: 1,
      rates: [5000, 10_000, 20_000, 40_000, 60_000],
      stepSeconds: 3,
      p99LimitMs: 100,
    },
    fanout2: { sizes: [10_000], instances: 2, rates: [20_000, 40_000], stepSeconds: 3, p99LimitMs: 100 },
    chat: { channels: 1000, perChannel: 5, publishers: 10, durationMs: 5000, warmupMs: 1000 },
    throughput: { connections: 20, durationMs: 10_000, warmupMs: 3000 },
    durable: { connections: 20, channels: 1000, durationMs: 5000, warmupMs: 1500 },
    jobs: { jobs: 1000, clients: 32, steps: 10, deadlineMs: 5 * 60_000 },
    longpoll: { polls: 10_000, channels: 100, rounds: 2, warmup: 0, workers: 4, settleMs: 1000 },
    idle: { sizes: [15_000, 19_000], channels: 1000, holdMs: 3000, settleMs: 2000 },
    watchdogMs: 20 * 60_000,
  },
  quick: {
    loadGens: 4,
    fanout: {
      sizes: [400, 1000],
      instances: 1,
      rates: [5000, 10_000, 20_000],
      stepSeconds: 2,
      p99LimitMs: 100,
    },
    fanout2: { sizes: [2000], instances: 2, rates: [10_000], stepSeconds: 2, p99LimitMs: 100 },
    chat: { channels: 200, perChannel: 5, publishers: 5, durationMs: 2000, warmupMs: 500 },
    throughput: { connections: 10, durationMs: 2000, warmupMs: 1500 },
    durable: { connections: 10, channels: 1000, durationMs: 2000, warmupMs: 1000 },
    jobs: { jobs: 300, clients: 16, steps: 10, deadlineMs: 3 * 60_000 },
    longpoll: { polls: 1000, channels: 20, rounds: 2, warmup: 0, workers: 2, settleMs: 1000 },
    idle: { sizes: [1000, 2000], channels: 100, holdMs: 1500, settleMs: 2000 },
    watchdogMs: 10 * 60_000,
  },
  // Every scenario at a size that proves it still runs end to end (CI); the numbers mean nothing.
  smoke: {
    loadGens: 2,
    fanout: { sizes: [10], instances: 1, rates: [100], stepSeconds: 0.5, p99LimitMs: 100 },
    fanout2: { sizes: [10], instances: 2, rates: [100], stepSeconds: 0.5, p99LimitMs: 100 },
    chat: { channels: 4, perChannel: 2, publishers: 2, durationMs: 300, warmupMs: 100 },
    throughput: { connections: 2, durationMs: 500, warmupMs: 300 },
    durable: { connections: 2, channels: 10, durationMs: 300, warmupMs: 100 },
    jobs: { jobs: 40, clients: 4, steps: 2, deadlineMs: 60_000 },
    longpoll: { polls: 10, channels: 2, rounds: 2, warmup: 0, workers: 1, settleMs: 200 },
    idle: { sizes: [20], channels: 5, holdMs: 500, settleMs: 200 },
    watchdogMs: 4 * 60_000,
  },
};
const cfg = JSON.parse(JSON.stringify(CONFIG[mode]));
// --set=scenario.key=number (or =n,n,... for a list) overrides one size, e.g. --set=fanout.rates=50000
// (the output says so).
const overrides = argv.filter((a) => a.startsWith('--set=')).map((a) => a.slice('--set='.length));
for (const o of overrides) {
  const m = /^(\w+)\.(\w+)=(\d+(?:\.\d+)?(?:,\d+(?:\.\d+)?)*)$/.exec(o);
  const cur = m && cfg[m[1]]?.[m[2]];
  if (!m || !(typeof cur === 'number' || (Array.isArray(cur) && !m[3].includes('.')))) {
    console.error(
      `bad --set=${o}; expected scenario.key=number (or a comma list for a list) with one of: ${JSON.stringify(cfg)}`,
    );
    process.exit(2);
  }
  const values = m[3].split(',').map(Number);
  if (typeof cur === 'number' && values.length > 1) {
    console.error(`bad --set=${o}: ${m[1]}.${m[2]} takes one number`);
    process.exit(2);
  }
  cfg[m[1]][m[2]] = Array.isArray(cur) ? values : values[0];
}
// Open-file budget (20000 per process here): no load-generator worker above 5000 sockets, no server
// above 15000 (idle: 19500, since issue 11 asks one instance to hold 19,000 idle connections).
{
  const wsPeak = Math.max(
    ...cfg.fanout.sizes,
    ...cfg.fanout2.sizes,
    cfg.chat.channels * cfg.chat.perChannel,
    ...cfg.idle.sizes,
  );
  const perGen = Math.max(
    Math.ceil(wsPeak / cfg.loadGens),
    Math.ceil(cfg.longpoll.polls / cfg.longpoll.workers),
  );
  const perServer = Math.max(
    ...cfg.fanout.sizes,
    ...cfg.fanout2.sizes,
    cfg.chat.channels * cfg.chat.perChannel,
    cfg.longpoll.polls,
  );
  const idleServer = Math.max(...cfg.idle.sizes);
  if (perGen > 5000 || perServer > 15_000 || idleServer > 19_500 || cfg.loadGens > 8) {
    console.error(
      `sizes too large: ${perGen} sockets per load-generator worker (max 5000), ${perServer} per server (max 15000), ` +
        `${idleServer} idle on one server (max 19500), ${cfg.loadGens} load generators (max 8: source addresses 127.0.0.2-17)`,
    );
    process.exit(2);
  }
}
for (const a of argv) {
  const known = ['--quick', '--smoke', '--no-socketio'].includes(a) || /^--(only|set|charts-to)=/.test(a);
  if (!known) {
    console.error(
      `unknown argument ${a}; use --quick, --smoke, --only=a,b, --set=scenario.key=number, --charts-to=dir, --no-socketio`,
    );
    process.exit(2);
  }
}
/** One entry per table: idle runs once per size (idle-15000, idle-19000), the others once. */
const RUNS = ORDER.filter((s) => selected.includes(s)).flatMap((name) =>
  name === 'idle'
    ? cfg.idle.sizes.map((size) => ({ key: `idle-${size}`, name, size }))
    : [{ key: name, name }],
);
/**
 * A rough duration per run on a quiet 2-core machine, for the plan and the progress bars
 * (connects ~1,000/s, publishes and polls as measured in docs/benchmarks.md).
 */
function estimateSeconds(run) {
  const c = cfg[run.name];
  switch (run.name) {
    case 'fanout':
    case 'fanout2':
      return c.sizes.reduce((s, K) => s + c.rates.length * 2 * (K / 1000 + c.stepSeconds + 5), 0);
    case 'chat':
      return 2 * ((c.channels * c.perChannel) / 1000 + (c.warmupMs + c.durationMs) / 1000 + 3);
    case 'throughput':
      return 4 * ((c.warmupMs + c.durationMs) / 1000) + 2;
    case 'durable':
      return 6 * ((c.warmupMs + c.durationMs) / 1000) + 5;
    case 'jobs':
      return 15 + c.jobs / 1000 + c.jobs / 100;
    case 'longpoll':
      return 2 * (8 + (c.rounds + c.warmup) * (c.polls / 2000 + 4) + 5);
    case 'idle':
      return 2 * (6 + c.settleMs / 1000 + run.size / 800 + c.holdMs / 1000 + 4 + run.size / 4000);
    default:
      return 30;
  }
}
const expectedSec = RUNS.reduce((s, r) => s + estimateSeconds(r), 15);
const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const OUT_DIR = join(ROOT, '.squall', 'bench', runId);
/** The running scenario's progress bar (stderr); lines are written around it. */
let bar;
const log = (line) => {
  bar?.clear();
  console.log(`[bench] ${line}`);
  if (bar) bar.phase(line.length > 70 ? `${line.slice(0, 67)}...` : line);
};
const startedAt = new Date();

function shell(cmd) {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
  } catch {
    return 'n/a';
  }
}

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
  node: process.version,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  ulimitN: shell('ulimit -n'),
  ulimitHardN: shell('ulimit -Hn'),
  loadAvgStart: os.loadavg().map((x) => +x.toFixed(2)),
};

const state = {
  gens: [],
  publisher: undefined,
  squall: [],
  baseline: undefined,
  infra: undefined,
  extraServers: [],
};
const stops = [];
const problems = [];
const results = {};

function recordStop(server, status) {
  const lines = problemLines(server.output());
  stops.push({
    name: `${server.kind} ${server.name}`,
    pid: server.pid,
    exit: status,
    problemLines: lines.slice(0, 20),
    problemCount: lines.length,
  });
  if (server.kind === 'squall' && (status.code !== 0 || status.forced)) {
    problems.push(
      `squall ${server.name} (pid ${server.pid}) did not stop cleanly on SIGTERM: ${JSON.stringify(status)}`,
    );
  }
  if (lines.length)
    problems.push(
      `${server.kind} ${server.name} logged ${lines.length} warn/error line(s); first: ${JSON.stringify(lines[0]).slice(0, 400)}`,
    );
}

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const g of [...state.gens, state.publisher].filter(Boolean)) await g.stop().catch(() => undefined);
    for (const s of [...state.squall, state.baseline, ...state.extraServers].filter(Boolean)) {
      if (s.exitStatus()) continue;
      recordStop(s, await s.stop());
    }
    await state.infra?.stop();
    killAllSync('SIGKILL');
  })();
  return cleaning;
}

process.on('exit', () => killAllSync('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (cleaning) {
      killAllSync('SIGKILL');
      process.exit(130);
    }
    console.error(`\n[bench] ${sig}: stopping everything the bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on('unhandledRejection', (err) => {
  console.error('[bench] unhandled rejection:', err);
  void cleanup().finally(() => process.exit(1));
});
const watchdog = setTimeout(() => {
  bar?.end();
  console.error(`[bench] watchdog: still running after ${cfg.watchdogMs / 60_000} min, aborting`);
  void cleanup().finally(() => process.exit(1));
}, cfg.watchdogMs);
watchdog.unref();

async function squallMetrics(server) {
  const names = [
    'squall_messages_published_total',
    'squall_hub_deliveries_total',
    'squall_hub_gap_fills_total',
    'squall_hub_skipped_seqs_total',
    'squall_ws_connections',
    'squall_hub_subscribers',
  ];
  const out = {};
  for (const n of names) out[n] = await metric(server, n).catch(() => NaN);
  return out;
}

/** Files this run wrote (per scenario JSON + SVG, the targets), listed at the end. */
const files = [];

function writeRunFiles(key, result, specs) {
  const json = join(OUT_DIR, `${key}.json`);
  writeFileSync(
    json,
    JSON.stringify({ runId, mode, ...result, markdown: markdownTable(result.rows) }, null, 2),
  );
  files.push(json);
  const svg = ratioChart(result.title, result.rows, {
    targets: specs.filter((t) => t.of === 'ratio'),
    subtitle: `ratio = squall / baseline (log scale; 1× = baseline) — ${mode} run ${runId}, ${startedAt.toISOString().slice(0, 16)}Z`,
  });
  if (svg) {
    writeFileSync(join(OUT_DIR, `${key}.svg`), svg);
    files.push(join(OUT_DIR, `${key}.svg`));
  }
}

/**
 * Fan-out against Socket.IO: for each subscriber count, the step Squall passed
 * highest (or the first one), where every system ran the same offered rate.
 */
function fanoutVsSocketIo(runTitle, raw, problems) {
  const out = [];
  for (const z of raw.sizes) {
    const step = z.steps[z.best.squall?.step ?? 0];
    const rows = reportSocketIo(
      'fanout',
      `${runTitle}, ${z.subscribers} subscribers at ${step.offered}/s offered`,
      step.systems,
      problems,
    );
    if (rows) out.push({ subscribers: z.subscribers, offered: step.offered, rows });
  }
  return out.length ? out : undefined;
}

async function main() {
  console.log(`Squall bench (${mode}) — run ${runId} — ${startedAt.toISOString()}`);
  console.log(`command: node bench/run.mjs ${argv.join(' ')}`.trim());
  if (overrides.length) console.log(`sizes overridden: ${overrides.join(', ')}`);
  console.log(
    `plan: ${RUNS.map((r) => `${r.key} ~${Math.round(estimateSeconds(r))} s`).join(', ')}; ` +
      `expected ~${(expectedSec / 60).toFixed(1)} min on a quiet machine (watchdog ${cfg.watchdogMs / 60_000} min)`,
  );
  console.log(
    `machine: ${machine.cpus} cpu (${machine.cpuModel}), ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.os}; ` +
      `ulimit -n ${machine.ulimitN} (hard ${machine.ulimitHardN}); load avg ${machine.loadAvgStart.join(' ')}`,
  );

  await snapshotDist(log);
  state.infra = await startInfra(log);
  const ctx = {
    cfg,
    runId,
    log,
    infra: state.infra,
    extraServers: state.extraServers,
    recordStop,
    socketio: !argv.includes('--no-socketio'), // the Socket.IO reference (idle, fanout, chat)
  };
  // fanout, chat, throughput and durable share two long-running instances; jobs, longpoll and idle
  // start fresh processes.
  const FRESH = new Set(['jobs', 'longpoll', 'idle']);
  const needMain = selected.some((s) => !FRESH.has(s));
  if (needMain) {
    [state.baseline, ...state.squall] = await Promise.all([
      startBaseline('main'),
      startSquall('A', state.infra),
      startSquall('B', state.infra),
    ]);
    log(
      `squall A pid ${state.squall[0].pid} :${state.squall[0].port}, B pid ${state.squall[1].pid} :${state.squall[1].port}; baseline pid ${state.baseline.pid} :${state.baseline.port}`,
    );
  }
  const { gens, publisher } = startLoadGens(cfg.loadGens);
  state.gens = gens;
  state.publisher = publisher;
  await Promise.all([...gens, publisher].map((g) => g.call('count')));
  const limits = openFiles(gens[0].pid);
  log(
    `${gens.length} load generators (pids ${gens.map((g) => g.pid).join(', ')}; max open files ${limits?.soft}) + publisher ${publisher.pid}; source addresses ${gens.flatMap((g) => g.addrs).join(', ')}`,
  );
  Object.assign(ctx, { gens, publisher, squall: state.squall, baseline: state.baseline });

  const title = (run) =>
    ({
      fanout: `Scenario 1: fan-out steps, ${cfg.fanout.sizes.join(' and ')} subscribers, ${cfg.fanout.instances} Squall instance(s) (WebSocket)`,
      fanout2: `Scenario 1c: fan-out steps, ${cfg.fanout2.sizes.join(' and ')} subscribers over ${cfg.fanout2.instances} Squall instances (WebSocket)`,
      chat: 'Scenario 1b: chat, many small rooms (WebSocket)',
      throughput: 'Scenario 2: publish throughput (WebSocket, await ack)',
      durable: 'Scenario 2b: durable publish (REST, WebSocket) vs the same INSERT by direct SQL',
      jobs: 'Scenario 5: jobs end to end vs bare BullMQ',
      longpoll: 'Scenario 3: long poll wake-up',
      idle: `Scenario 4: idle connections (memory), ${run.size}`,
    })[run.name];
  const instanceMetrics = {};
  mkdirSync(OUT_DIR, { recursive: true });
  for (const run of RUNS) {
    const { key, name } = run;
    if (cleaning) break; // a signal or the watchdog is shutting everything down
    if (FRESH.has(name) && needMain && !state.baseline.exitStatus()) {
      // Collect evidence from the long-running instances, then stop them so the fresh ones have the machine.
      for (const s of state.squall) instanceMetrics[s.name] = await squallMetrics(s);
      for (const s of [...state.squall, state.baseline]) recordStop(s, await s.stop());
    }
    const t0 = Date.now();
    log(`${key}: starting (expected ~${Math.round(estimateSeconds(run))} s)`);
    bar = startBar(key, estimateSeconds(run));
    const runCtx = run.size ? { ...ctx, cfg: { ...cfg, idle: { ...cfg.idle, connections: run.size } } } : ctx;
    try {
      const r = await SCENARIOS[name](runCtx);
      bar.end();
      bar = undefined;
      const rows = printTable(`${title(run)} — ratio = squall / baseline`, r.rows, r.notes);
      const socketio = name.startsWith('fanout')
        ? fanoutVsSocketIo(title(run), r.raw, problems)
        : reportSocketIo(name, title(run), r.raw, problems);
      const targets = evaluateTargets(run, cfg, rows, r.raw);
      results[key] = {
        title: title(run),
        seconds: (Date.now() - t0) / 1000,
        rows,
        notes: r.notes,
        targets,
        raw: r.raw,
        socketio,
      };
      writeRunFiles(key, results[key], specsFor(run, cfg));
    } catch (err) {
      bar?.end();
      bar = undefined;
      if (cleaning) break;
      problems.push(`scenario ${key} failed: ${err.stack ?? err}`);
      console.error(`[bench] scenario ${key} FAILED: ${err.stack ?? err}`);
      results[key] = { title: title(run), failed: String(err.stack ?? err) };
      await Promise.all(gens.map((g) => g.call('closeAll', {}, 60_000).catch(() => undefined)));
    }
    log(`${key}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (cleaning) await new Promise(() => {}); // the signal/watchdog handler exits
  if (needMain && !state.baseline.exitStatus()) {
    for (const s of state.squall) instanceMetrics[s.name] = await squallMetrics(s);
  }

  // Loss and ordering evidence from the scenarios themselves.
  for (const fk of ['fanout', 'fanout2']) {
    for (const size of results[fk]?.raw?.sizes ?? [])
      for (const step of size.steps)
        for (const [k, f] of Object.entries(step.systems)) {
          const at = `${fk} ${k} (${size.subscribers} subscribers, ${step.offered}/s)`;
          if (f.lost > 0) problems.push(`${at}: ${f.lost} of ${f.expected} deliveries never arrived`);
          if (f.gaps || f.duplicates) problems.push(`${at}: ${f.gaps} seq gaps, ${f.duplicates} duplicates`);
          if (Object.keys(f.unexpectedCloses).length)
            problems.push(`${at}: unexpected closes ${JSON.stringify(f.unexpectedCloses)}`);
          if (f.errorFrames)
            problems.push(`${at}: ${f.errorFrames} error frames, e.g. ${JSON.stringify(f.errorSamples[0])}`);
        }
  }
  const tp = results.throughput?.raw;
  if (tp) {
    for (const v of Object.keys(tp))
      for (const k of ['squall', 'baseline'])
        if (tp[v][k].failed)
          problems.push(
            `throughput ${v} ${k}: ${tp[v][k].failed} publishes not acked, e.g. ${JSON.stringify(tp[v][k].errors[0])}`,
          );
  }
  const ch = results.chat?.raw;
  if (ch) {
    for (const k of ['squall', 'baseline']) {
      const c = ch[k];
      if (c.opened < c.expectedSubscribers)
        problems.push(
          `chat ${k}: ${c.opened} of ${c.expectedSubscribers} subscribed, e.g. ${c.openErrors[0]}`,
        );
      if (c.lost > 0) problems.push(`chat ${k}: ${c.lost} of ${c.expected} deliveries never arrived`);
      if (c.gaps || c.duplicates) problems.push(`chat ${k}: ${c.gaps} seq gaps, ${c.duplicates} duplicates`);
      if (Object.keys(c.unexpectedCloses).length)
        problems.push(`chat ${k}: unexpected closes ${JSON.stringify(c.unexpectedCloses)}`);
      if (c.errorFrames || c.publishFailed)
        problems.push(
          `chat ${k}: ${c.errorFrames} error frames, ${c.publishFailed} failed publishes, e.g. ${JSON.stringify(c.errorSamples[0] ?? c.publishErrors[0])}`,
        );
      if (c.acked === 0) problems.push(`chat ${k}: nothing published`);
    }
  }
  const dur = results.durable?.raw;
  if (dur) {
    for (const layout of Object.keys(dur))
      for (const [via, x] of Object.entries(dur[layout])) {
        if (x.failed)
          problems.push(`durable ${layout} ${via}: ${x.failed} publishes failed, e.g. ${x.errors[0]}`);
        if (x.ok === 0) problems.push(`durable ${layout} ${via}: nothing committed`);
      }
  }
  const lp = results.longpoll?.raw;
  if (lp) {
    for (const k of ['squall', 'baseline']) {
      const x = lp[k];
      if (x.answered < x.expected)
        problems.push(`longpoll ${k}: ${x.answered} of ${x.expected} polls answered with the message`);
      if (x.errors)
        problems.push(`longpoll ${k}: ${x.errors} errors (non-200, empty answers, failed publishes)`);
      for (const p of x.problems) problems.push(`longpoll ${k}: ${p}`);
    }
  }
  const jb = results.jobs?.raw;
  if (jb) for (const p of jb.squall.problems) problems.push(`jobs: ${p}`);
  for (const run of RUNS.filter((r) => r.name === 'idle')) {
    const idl = results[run.key]?.raw;
    if (!idl) continue;
    for (const k of ['squall', 'baseline']) {
      const x = idl[k];
      if (x.failed) problems.push(`${run.key} ${k}: ${x.failed} connections failed, e.g. ${x.openErrors[0]}`);
      if (x.stillOpen < x.opened)
        problems.push(
          `${run.key} ${k}: ${x.opened - x.stillOpen} connections closed while idle ${JSON.stringify(x.unexpectedCloses)}`,
        );
    }
  }

  await cleanup();
  const leftovers = tracked();
  if (leftovers.length)
    problems.push(`processes still registered after cleanup: ${JSON.stringify(leftovers)}`);

  console.log('\n== Squall instance counters (from /metrics before stopping)');
  for (const [name, m] of Object.entries(instanceMetrics)) console.log(`   ${name}: ${JSON.stringify(m)}`);
  console.log('\n== Process exits');
  for (const s of stops)
    console.log(
      `   ${s.name} pid ${s.pid}: ${JSON.stringify(s.exit)}; warn/error log lines: ${s.problemCount}`,
    );
  console.log('\n== Problems observed');
  if (problems.length === 0) console.log('   none');
  for (const p of problems) console.log(`   - ${p}`);

  const targets = Object.values(results).flatMap((r) => r.targets ?? []);
  printTargets(targets, {
    note:
      mode === 'smoke'
        ? 'smoke sizes: these ratios mean nothing, the table is printed to prove it is built'
        : `${mode} run on ${machine.cpus} cpu, load avg at start ${machine.loadAvgStart.join(' ')}`,
  });
  writeFileSync(join(OUT_DIR, 'targets.md'), `${targetsMarkdown(targets)}\n`);
  files.push(join(OUT_DIR, 'targets.md'));

  const finishedAt = new Date();
  machine.loadAvgEnd = os.loadavg().map((x) => +x.toFixed(2));
  const out = {
    runId,
    mode,
    command: `node bench/run.mjs ${argv.join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds: (finishedAt - startedAt) / 1000,
    machine,
    config: cfg,
    infra: state.infra.started,
    scenarios: Object.fromEntries(
      Object.entries(results).map(([k, v]) => [
        k,
        { ...v, markdown: v.rows ? markdownTable(v.rows) : undefined },
      ]),
    ),
    instanceMetrics,
    processExits: stops,
    problems,
    targets,
    files: files.map((f) => relative(ROOT, f)),
  };
  mkdirSync(join(ROOT, '.squall'), { recursive: true });
  const file = join(ROOT, '.squall', smoke ? 'bench-smoke-results.json' : 'bench-results.json');
  writeFileSync(file, JSON.stringify(out, null, 2));
  writeFileSync(join(OUT_DIR, 'run.json'), JSON.stringify(out, null, 2));
  console.log('\n== Files');
  for (const f of [file, join(OUT_DIR, 'run.json'), ...files]) console.log(`   ${relative(ROOT, f)}`);
  if (chartsTo) {
    const dir = resolve(process.cwd(), chartsTo);
    mkdirSync(dir, { recursive: true });
    for (const f of files.filter((x) => x.endsWith('.svg'))) {
      const dest = join(dir, f.slice(OUT_DIR.length + 1));
      copyFileSync(f, dest);
      console.log(`   copied to ${relative(ROOT, dest)}`);
    }
  }
  console.log(
    `\nresults: ${relative(ROOT, file)} — ${out.seconds.toFixed(0)} s total (expected ~${Math.round(expectedSec)} s); load avg now ${machine.loadAvgEnd.join(' ')}`,
  );
  if (Object.values(results).some((r) => r.failed)) return 1;
  // The smoke checks correctness only: any problem observed fails it.
  if (smoke && problems.length) return 1;
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`[bench] failed: ${err.stack ?? err}`);
    await cleanup().catch(() => undefined);
    process.exit(1);
  },
);
