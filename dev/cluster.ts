/**
 * `npm run cluster -- --instances 3 --workers 1`: the scaled-out topology on
 * one machine. Postgres and Redis as `npm start` runs them (or DATABASE_URL
 * and REDIS_URL), N `api,gateway` instances and M `worker` instances on free
 * loopback ports, and nginx in front, configured from docker/nginx.conf like
 * the compose stack and the tests. Every instance, nginx and the servers run
 * in process groups of their own (see spawnServer): a Ctrl-C reaches only
 * this process, which stops the instances first (they drain: 1001 to
 * WebSocket clients, running jobs finish), then nginx, Redis and Postgres,
 * and exits 0.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as ConfigSchema from '../src/infra/config/config.schema.js';
import type * as RepeatedSignal from '../src/infra/lifecycle/repeated-signal.js';
import { freePort } from './free-port.js';
import { type NginxHandle, ensureNginx, startNginx } from './nginx.js';
import { BackingStack } from './backing-stack.js';
import { type ServerProcess, spawnServer } from './server-process.js';

// The service is the production build, dist/ (`npm run cluster` builds it
// first); paths relative to this file both as dev/cluster.ts and built as
// dist-dev/cluster.js (see start.ts).
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const CONFIG = '../dist/infra/config/config.schema.js';
const SIGNALS = '../dist/infra/lifecycle/repeated-signal.js';
const { configFields } = (await import(CONFIG)) as typeof ConfigSchema;
const { REPEATED_SIGNAL_MS } = (await import(SIGNALS)) as typeof RepeatedSignal;
const DIR = resolve('.squall/cluster');
const USAGE = `usage: npm run cluster -- [--instances N] [--workers M] [--port P]
  --instances N  api,gateway instances behind nginx (default 2, at most 16)
  --workers M    worker instances (default 1, at most 16)
  --port P       nginx's port on 127.0.0.1 (default 8080, or a free one when 8080 is taken)
Postgres and Redis: DATABASE_URL and REDIS_URL when set, else started as npm start does.`;

const say = (line: string) => process.stdout.write(`[squall cluster] ${line}\n`);

interface Member {
  name: string;
  role: string;
  port: number;
  server: ServerProcess;
  logFile: string;
}

function options(): { instances: number; workers: number; port?: number } {
  const count = (name: string, value: string | undefined, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > 16)
      throw new Error(`--${name} must be ${min} to 16 (got "${value}")`);
    return n;
  };
  const { values } = parseArgs({
    options: {
      instances: { type: 'string' },
      workers: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw new Error(`--port must be a port number (got "${values.port}")`);
  }
  return {
    instances: count('instances', values.instances, 2, 1),
    workers: count('workers', values.workers, 1, 0),
    port,
  };
}

/** 8080 when it is free, as in the compose stack; any free port otherwise. */
async function balancerPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(8080, '127.0.0.1', () => probe.close(() => done(true)));
  });
  return free ? 8080 : freePort();
}

async function untilReady(member: Member): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const { child } = member.server;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${member.name} exited while starting; the end of ${member.logFile}:\n${member.server.stderr()}`,
      );
    }
    const status = await fetch(`http://127.0.0.1:${member.port}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${member.name} not ready within 90 s; see ${member.logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `  ${r.map((cell, i) => cell.padEnd(widths[i])).join('   ')}`.trimEnd()).join('\n');
}

async function cluster(): Promise<void> {
  let wanted: ReturnType<typeof options>;
  try {
    wanted = options();
  } catch (err) {
    process.stderr.write(`squall cluster: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const env = { ...process.env };
  const members: Member[] = [];
  let nginx: NginxHandle | undefined;
  const stack = new BackingStack(env, say);
  let running = false;
  let stopping = false;

  // Instances first, against a stack that is still up: they drain (1001 to
  // clients, through nginx; running jobs finish), then the balancer, then
  // Redis and Postgres.
  const stopAll = async () => {
    stopping = true;
    await Promise.all(members.map((m) => m.server.stop()));
    await nginx?.stop();
    await stack.stop();
  };

  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      // npm passes a terminal's Ctrl-C on: the same signal within a second is that one again.
      if (signal === first.signal && Date.now() - first.at < REPEATED_SIGNAL_MS) return;
      say(`second ${signal}: stopping everything at once`);
      for (const m of members) m.server.child.kill('SIGKILL');
      // The 'exit' event tells nginx, Redis and Postgres to stop (see spawnServer).
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    say(`${signal}: stopping the instances (they drain), then nginx, Redis and Postgres`);
    const code = running ? 0 : 128 + constants.signals[signal];
    void stopAll().then(() => {
      say('stopped');
      process.exit(code);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Closing the terminal: as SIGTERM (the process groups of our own do not get SIGHUP).
  process.on('SIGHUP', () => onSignal('SIGTERM'));

  try {
    // Before anything starts: a missing nginx is installed (as root on Debian) or reported now.
    ensureNginx(say);
    await stack.start(() => stopping);
    if (stopping) return;

    const ports = new Set<number>();
    const port = async () => {
      for (;;) {
        const p = await freePort();
        if (!ports.has(p)) return (ports.add(p), p);
      }
    };
    const roles = [
      ...Array.from({ length: wanted.instances }, (_, i) => ({ name: `api-${i + 1}`, role: 'api,gateway' })),
      ...Array.from({ length: wanted.workers }, (_, i) => ({ name: `worker-${i + 1}`, role: 'worker' })),
    ];
    rmSync(join(DIR, 'logs'), { recursive: true, force: true });
    mkdirSync(join(DIR, 'logs'), { recursive: true });
    for (const { name, role } of roles) {
      const memberPort = await port();
      const logFile = join(DIR, 'logs', `${name}.log`);
      const server = spawnServer(process.execPath, [MAIN], {
        env: {
          ...env,
          HOST: '127.0.0.1',
          PORT: String(memberPort),
          ROLE: role,
          INSTANCE_ID: name,
        },
        stopSignal: 'SIGTERM',
        logFile,
      });
      members.push({ name, role, port: memberPort, server, logFile });
    }
    say(`starting ${roles.map((r) => r.name).join(', ')} (logs in .squall/cluster/logs/)`);
    // Every instance migrates under an advisory lock, so they start together.
    await Promise.all(members.map(untilReady));
    if (stopping) return;
    nginx = await startNginx({
      upstreams: members.filter((m) => m.role.includes('gateway')).map((m) => m.port),
      dir: join(DIR, 'nginx'),
      port: wanted.port ?? (await balancerPort()),
      maxMessageBytes: configFields.shape.MAX_MESSAGE_BYTES.parse(env.MAX_MESSAGE_BYTES || undefined),
      accessLog: join(DIR, 'logs', 'nginx-access.log'),
      log: say,
    });
  } catch (err) {
    if (stopping) return; // a signal interrupted the start; stopAll is under way
    process.stderr.write(`squall cluster: ${(err as Error).message}\n`);
    await stopAll();
    process.exit(1);
  }
  if (stopping) return;
  running = true;

  for (const m of members) {
    m.server.child.once('exit', (code, signal) => {
      if (!stopping)
        say(`${m.name} (pid ${m.server.child.pid}) exited (${signal ?? code}); see ${m.logFile}`);
    });
  }
  say(`ready on ${nginx.url} (WebSocket ${nginx.wsUrl})`);
  say(stack.describe());
  process.stdout.write(
    `${table([
      ['instance', 'role', 'pid', 'port'],
      ...members.map((m) => [m.name, m.role, String(m.server.child.pid), String(m.port)]),
      ['nginx', 'balancer', String(nginx.server.child.pid), String(nginx.port)],
    ])}\n`,
  );
  say('each HTTP answer names its instance in X-Squall-Instance, each WebSocket `subscribed` in `instance`');
  say('Ctrl-C stops everything');
}

void cluster();
