/* global fetch */
/**
 * Starts what the bench measures against: an embedded Postgres and a private
 * redis-server (unless DATABASE_URL / REDIS_URL are given), Squall instances
 * (`node dist/main.js`) and the bare `ws` baseline server. Everything is
 * loopback-only and registered by PID for cleanup.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isAlive, onExitSync, stopChild, track } from './procs.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The bench runs a snapshot of dist/ (copied at start): a rebuild during the
 * run (`npm run build` starts with rm -rf dist) must not pull files from under
 * running instances. It sits inside the repo so node_modules still resolve.
 */
export const DIST = join(ROOT, '.squall', 'bench-dist');
/** The dev stack (embedded Postgres, redis-server), built by `npm run build:dev`; loaded once, at start. */
const devStack = (p) => pathToFileURL(join(ROOT, 'dist-dev', p)).href;

export async function snapshotDist(log = () => {}) {
  const src = join(ROOT, 'dist');
  const count = () => {
    try {
      return readdirSync(src, { recursive: true }).length;
    } catch {
      return -1;
    }
  };
  // Someone may be rebuilding (rm -rf dist && tsc): wait until dist/ is whole and still.
  const deadline = Date.now() + 90_000;
  let last = count();
  let stableSince = Date.now();
  let said = false;
  for (;;) {
    await sleep(250);
    const n = count();
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    }
    const ready = existsSync(join(src, 'main.js')) && Date.now() - stableSince >= 1500;
    if (ready) break;
    if (Date.now() > deadline) {
      throw new Error(
        'dist/main.js not found or still changing: run `npm run build` first (npm run bench does)',
      );
    }
    if (!said && !existsSync(join(src, 'main.js'))) {
      log('dist/ is missing or being rebuilt; waiting for it');
      said = true;
    }
  }
  rmSync(DIST, { recursive: true, force: true });
  cpSync(src, DIST, { recursive: true });
  if (!existsSync(join(DIST, 'main.js'))) {
    throw new Error('dist/ changed while it was being copied (a build running?): try again');
  }
}

export async function freePort() {
  const { freePort: fp } = await import(devStack('free-port.js'));
  return fp('127.0.0.1');
}

/** Postgres + Redis for the Squall instances; `stop()` stops only what was started here. */
export async function startInfra(log) {
  const infra = { databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL, started: [] };
  let pg;
  let redis;
  const pgDir = join(ROOT, '.squall', 'bench-pg');
  if (!infra.databaseUrl) {
    const { startPostgres } = await import(devStack('postgres.js'));
    log('DATABASE_URL not set: starting embedded Postgres in .squall/bench-pg');
    // If the bench dies without running its cleanup, the postmaster is stopped by PID.
    onExitSync(() => {
      if (!pg) return;
      const pidFile = join(pgDir, 'postmaster.pid');
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGINT');
    });
    pg = await startPostgres({ dir: pgDir, database: 'squall_bench' });
    infra.databaseUrl = pg.url;
    infra.started.push('postgres (embedded, fsync=off)');
  } else {
    log('using DATABASE_URL from the environment');
  }
  if (!infra.redisUrl) {
    const { startRedis } = await import(devStack('redis-server.js'));
    log('REDIS_URL not set: starting redis-server');
    redis = await startRedis({ dir: join(ROOT, '.squall'), log });
    track(redis.process, 'redis-server');
    infra.redisUrl = redis.url;
    infra.started.push('redis-server');
  } else {
    log('using REDIS_URL from the environment');
  }
  infra.postgresPid = () => {
    const pidFile = join(pgDir, 'postmaster.pid');
    if (!pg || !existsSync(pidFile)) return undefined;
    return Number(readFileSync(pidFile, 'utf8').split('\n')[0]) || undefined;
  };
  infra.redisPid = () => redis?.process.pid;
  infra.stop = async () => {
    await redis?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    pg = undefined;
  };
  return infra;
}

function captureOutput(child) {
  const state = { text: '', dropped: 0 };
  const add = (d) => {
    state.text += d.toString();
    if (state.text.length > 2_000_000) {
      state.dropped += state.text.length - 1_000_000;
      state.text = state.text.slice(-1_000_000);
    }
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return state;
}

/**
 * Startup warnings the bench's own setup causes on purpose (open mode, no
 * browser origins on loopback): expected, so not counted as problems.
 */
const EXPECTED_WARNINGS = [/^AUTHENTICATION IS OFF \(open mode\)/, /^WS_ALLOWED_ORIGINS is empty/];

/** Pino (production) writes JSON lines; returns the warn/error/fatal ones (expected startup warnings left out). */
export function problemLines(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line);
      const expected = j.level === 40 && EXPECTED_WARNINGS.some((re) => re.test(String(j.msg)));
      if (typeof j.level === 'number' && j.level >= 40 && !expected) out.push(j);
    } catch {
      if (!/^listening \d+$/.test(line.trim())) out.push({ level: 'raw', msg: line.slice(0, 500) });
    }
  }
  return out;
}

/** Spawns `node dist/main.js` (the snapshot) and waits for GET /health/ready → 200. */
export async function startSquall(name, infra, extraEnv = {}, nodeArgs = []) {
  const main = join(DIST, 'main.js');
  const port = await freePort();
  // BENCH_CPU_PROF=<dir>: every Squall instance writes a V8 CPU profile there on exit
  // (summarise with `node bench/profile-summary.mjs <dir>`).
  const prof = process.env.BENCH_CPU_PROF
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`,
        `--cpu-prof-name=squall-${name}-${Date.now()}.cpuprofile`,
      ]
    : [];
  const child = spawn(process.execPath, [...prof, ...nodeArgs, main], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: infra.databaseUrl,
      REDIS_URL: infra.redisUrl,
      REDIS_KEY_PREFIX: 'squallbench',
      // NODE_ENV=production refuses to start without a key unless open mode is asked for.
      AUTH_MODE: 'open',
      // The load generators are one address in open mode: per-client limits off.
      RATE_LIMIT_PUBLISH_PER_SEC: '0',
      RATE_LIMIT_JOBS_PER_MIN: '0',
      WS_MAX_CONNECTIONS_PER_KEY: '0',
      WS_MAX_CONNECTIONS_PER_IP: '0',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child, `squall ${name}`);
  const output = captureOutput(child);
  let exitStatus = null;
  child.once('exit', (code, signal) => (exitStatus = { code, signal }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitStatus)
      throw new Error(
        `squall ${name} exited before ready (${JSON.stringify(exitStatus)}):\n${output.text.slice(-4000)}`,
      );
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stopChild(child, { signal: 'SIGKILL' });
      throw new Error(`squall ${name} not ready after 60 s:\n${output.text.slice(-4000)}`);
    }
    await sleep(100);
  }
  return {
    kind: 'squall',
    name,
    pid: child.pid,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    child,
    output: () => output.text,
    exitStatus: () => exitStatus,
    stop: async () => stopChild(child, { signal: 'SIGTERM', graceMs: 20_000 }),
  };
}

/**
 * Spawns a reference server, `bench/<script>`, on a free port (it prints
 * "listening <port>") and waits for that port. `kind` names it in reports.
 */
export async function startScriptServer(kind, name, script, env = {}) {
  const child = spawn(process.execPath, [join(ROOT, 'bench', script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child, `${kind} ${name}`);
  const output = captureOutput(child);
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${kind} ${name} did not start:\n${output.text}`)),
      15_000,
    );
    const onData = () => {
      const m = /listening (\d+)/.exec(output.text);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolvePort(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} ${name} exited (${code}):\n${output.text}`));
    });
  });
  return {
    kind,
    name,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output.text,
    exitStatus: () =>
      child.exitCode === null && child.signalCode === null
        ? null
        : { code: child.exitCode, signal: child.signalCode },
    stop: async () => stopChild(child, { signal: 'SIGTERM', graceMs: 5000 }),
  };
}

/** The bare `ws` baseline (bench/baseline-server.mjs). */
export async function startBaseline(name) {
  const server = await startScriptServer('baseline', name, 'baseline-server.mjs');
  return { ...server, wsUrl: `ws://127.0.0.1:${server.port}/v1/ws` };
}

/** Reads a Prometheus gauge/counter (sum over label sets) from GET /metrics. */
export async function metric(server, name) {
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN)$/.exec(line.trim());
    if (m && m[1] === name) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}
