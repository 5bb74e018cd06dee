#!/usr/bin/env node
/**
 * Squall benchmarks: each scenario runs against Squall and against a bare
 * `ws` baseline server started in the same process tree, and prints the
 * ratio squall/baseline next to absolute numbers (absolute times drift on
 * shared machines; the ratio is what to compare between runs).
 *
 *   npm run bench                   # build, then the full run (~3-5 min on 2 cores)
 *   node bench/run.mjs --quick      # smaller sizes, ~1 min (needs a prior build)
 *   node bench/run.mjs --smoke      # tiny sizes, correctness only (CI): exits 1 on any failure or problem
 *   node bench/run.mjs --only=fanout,longpoll
 *   node bench/run.mjs --only=fanout --set=fanout.rate=50 --set=fanout.messages=200   # overload probe
 *
 * Loopback only. Starts an embedded Postgres (.squall/bench-pg) and a
 * redis-server unless DATABASE_URL / REDIS_URL are set, Squall instances
 * (`node dist/main.js`), the baseline and load-generator workers; stops
 * exactly those (by PID) on the way out, also on errors and signals.
 * Results: stdout and .squall/bench-results.json.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { startLoadGens } from './lib/loadgens.mjs';
import { killAllSync, openFiles, tracked } from './lib/procs.mjs';
import { markdownTable, printTable } from './lib/report.mjs';
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
import { fanout } from './scenarios/fanout.mjs';
import { idle } from './scenarios/idle.mjs';
import { longpoll } from './scenarios/longpoll.mjs';
import { throughput } from './scenarios/throughput.mjs';

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const quick = argv.includes('--quick');
const mode = smoke ? 'smoke' : quick ? 'quick' : 'full';
const onlyArg = argv.find((a) => a.startsWith('--only='));
const ORDER = ['fanout', 'chat', 'throughput', 'durable', 'longpoll', 'idle'];
const SCENARIOS = { fanout, chat, throughput, durable, longpoll, idle };
const selected = onlyArg ? onlyArg.slice('--only='.length).split(',').filter(Boolean) : ORDER;
for (const s of selected) {
  if (!SCENARIOS[s]) {
    console.error(`unknown scenario "${s}"; choose from ${ORDER.join(', ')}`);
    process.exit(2);
  }
}

const CONFIG = {
  full: {
    loadGens: 4,
    fanout: { subscribers: 2000, messages: 50, rate: 5, warmup: 5 },
    chat: { channels: 1000, perChannel: 5, publishers: 10, durationMs: 5000, warmupMs: 1000 },
    throughput: { connections: 20, durationMs: 10_000, warmupMs: 3000 },
    durable: { connections: 20, channels: 1000, durationMs: 5000, warmupMs: 1500 },
    longpoll: { polls: 2000, rounds: 2 },
    idle: { connections: 10_000, channels: 1000, holdMs: 3000, settleMs: 2000 },
    watchdogMs: 9 * 60_000,
  },
  quick: {
    loadGens: 4,
    fanout: { subscribers: 400, messages: 30, rate: 10, warmup: 5 },
    chat: { channels: 200, perChannel: 5, publishers: 5, durationMs: 2000, warmupMs: 500 },
    throughput: { connections: 10, durationMs: 2000, warmupMs: 1500 },
    durable: { connections: 10, channels: 1000, durationMs: 2000, warmupMs: 1000 },
    longpoll: { polls: 400, rounds: 2 },
    idle: { connections: 1000, channels: 100, holdMs: 1500, settleMs: 2000 },
    watchdogMs: 4 * 60_000,
  },
  // Every scenario at a size that proves it still runs end to end (CI); the numbers mean nothing.
  smoke: {
    loadGens: 2,
    fanout: { subscribers: 10, messages: 5, rate: 10, warmup: 1 },
    chat: { channels: 4, perChannel: 2, publishers: 2, durationMs: 300, warmupMs: 100 },
    throughput: { connections: 2, durationMs: 500, warmupMs: 300 },
    durable: { connections: 2, channels: 10, durationMs: 300, warmupMs: 100 },
    longpoll: { polls: 10, rounds: 1 },
    idle: { connections: 20, channels: 5, holdMs: 500, settleMs: 200 },
    watchdogMs: 3 * 60_000,
  },
};
const cfg = JSON.parse(JSON.stringify(CONFIG[mode]));
// --set=scenario.key=number overrides one size, e.g. --set=fanout.rate=50 (the output says so).
const overrides = argv.filter((a) => a.startsWith('--set=')).map((a) => a.slice('--set='.length));
for (const o of overrides) {
  const m = /^(\w+)\.(\w+)=(\d+(?:\.\d+)?)$/.exec(o);
  if (!m || typeof cfg[m[1]]?.[m[2]] !== 'number') {
    console.error(`bad --set=${o}; expected scenario.key=number with one of: ${JSON.stringify(cfg)}`);
    process.exit(2);
  }
  cfg[m[1]][m[2]] = Number(m[3]);
}
// Open-file budget (20000 per process here): no load generator above ~5000 sockets, no server above 15000
// (idle alone may go to 19,500: issue 11 asks one instance to hold 19,000 idle connections).
{
  const perGen = Math.ceil(
    Math.max(
      cfg.fanout.subscribers,
      cfg.chat.channels * cfg.chat.perChannel,
      cfg.idle.connections,
      cfg.longpoll.polls,
    ) / cfg.loadGens,
  );
  const perServer = Math.max(
    cfg.fanout.subscribers,
    cfg.chat.channels * cfg.chat.perChannel,
    cfg.longpoll.polls,
  );
  if (perGen > 5000 || perServer > 15_000 || cfg.idle.connections > 19_500) {
    console.error(
      `sizes too large: ${perGen} sockets per load generator (max 5000), ${perServer} per server (max 15000; idle max 19500)`,
    );
    process.exit(2);
  }
}
for (const a of argv) {
  if (a !== '--quick' && a !== '--smoke' && !a.startsWith('--only=') && !a.startsWith('--set=')) {
    console.error(`unknown argument ${a}; use --quick, --smoke, --only=a,b, --set=scenario.key=number`);
    process.exit(2);
  }
}
const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const log = (line) => console.log(`[bench] ${line}`);
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

async function main() {
  console.log(`Squall bench (${mode}) — run ${runId} — ${startedAt.toISOString()}`);
  console.log(`command: node bench/run.mjs ${argv.join(' ')}`.trim());
  if (overrides.length) console.log(`sizes overridden: ${overrides.join(', ')}`);
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
  };
  // fanout and throughput share two long-running instances; longpoll and idle start fresh processes.
  const FRESH = new Set(['longpoll', 'idle']);
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

  const titles = {
    fanout: 'Scenario 1: fan-out latency (WebSocket)',
    chat: 'Scenario 1b: chat, many small rooms (WebSocket)',
    throughput: 'Scenario 2: publish throughput (WebSocket, await ack)',
    durable: 'Scenario 2b: durable publish (REST, WebSocket) vs the same INSERT by direct SQL',
    longpoll: 'Scenario 3: long poll wake-up',
    idle: 'Scenario 4: idle connections (memory)',
  };
  const instanceMetrics = {};
  for (const name of ORDER.filter((s) => selected.includes(s))) {
    if (cleaning) break; // a signal or the watchdog is shutting everything down
    if (FRESH.has(name) && needMain && !state.baseline.exitStatus()) {
      // Collect evidence from the long-running instances, then stop them so the fresh ones have the machine.
      for (const s of state.squall) instanceMetrics[s.name] = await squallMetrics(s);
      for (const s of [...state.squall, state.baseline]) recordStop(s, await s.stop());
    }
    const t0 = Date.now();
    log(`${name}: starting`);
    try {
      const r = await SCENARIOS[name](ctx);
      const rows = printTable(`${titles[name]} — ratio = squall / baseline`, r.rows, r.notes);
      results[name] = {
        title: titles[name],
        seconds: (Date.now() - t0) / 1000,
        rows,
        notes: r.notes,
        raw: r.raw,
      };
    } catch (err) {
      if (cleaning) break;
      problems.push(`scenario ${name} failed: ${err.stack ?? err}`);
      console.error(`[bench] scenario ${name} FAILED: ${err.stack ?? err}`);
      results[name] = { title: titles[name], failed: String(err.stack ?? err) };
      await Promise.all(gens.map((g) => g.call('closeAll', {}, 60_000).catch(() => undefined)));
    }
    log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (cleaning) await new Promise(() => {}); // the signal/watchdog handler exits
  if (needMain && !state.baseline.exitStatus()) {
    for (const s of state.squall) instanceMetrics[s.name] = await squallMetrics(s);
  }

  // Loss and ordering evidence from the scenarios themselves.
  const fan = results.fanout?.raw;
  if (fan) {
    for (const k of ['squall', 'baseline']) {
      const f = fan[k];
      if (f.lost > 0) problems.push(`fanout ${k}: ${f.lost} of ${f.expected} deliveries never arrived`);
      if (f.gaps || f.duplicates)
        problems.push(`fanout ${k}: ${f.gaps} seq gaps, ${f.duplicates} duplicates`);
      if (Object.keys(f.unexpectedCloses).length)
        problems.push(`fanout ${k}: unexpected closes ${JSON.stringify(f.unexpectedCloses)}`);
      if (f.errorFrames)
        problems.push(
          `fanout ${k}: ${f.errorFrames} error frames, e.g. ${JSON.stringify(f.errorSamples[0])}`,
        );
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
      for (const p of x.problems) problems.push(`longpoll ${k}: ${p}`);
    }
  }
  const idl = results.idle?.raw;
  if (idl) {
    for (const k of ['squall', 'baseline']) {
      const x = idl[k];
      if (x.failed) problems.push(`idle ${k}: ${x.failed} connections failed, e.g. ${x.openErrors[0]}`);
      if (x.stillOpen < x.opened)
        problems.push(
          `idle ${k}: ${x.opened - x.stillOpen} connections closed while idle ${JSON.stringify(x.unexpectedCloses)}`,
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
  };
  mkdirSync(join(ROOT, '.squall'), { recursive: true });
  const file = join(ROOT, '.squall', smoke ? 'bench-smoke-results.json' : 'bench-results.json');
  writeFileSync(file, JSON.stringify(out, null, 2));
  console.log(
    `\nresults: ${file} — ${out.seconds.toFixed(0)} s total; load avg now ${machine.loadAvgEnd.join(' ')}`,
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
