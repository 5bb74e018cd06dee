import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { freePort } from '../../dev/free-port.js';
import { waitFor } from './wait-for.js';

const MAIN = join(process.cwd(), 'dist', 'main.js');
export const TEST_JOBS = join(process.cwd(), 'dist', 'jobs', 'testing', 'test-jobs.module.js');

export interface Instance {
  port: number;
  url: string;
  wsUrl: string;
  process: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit status. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Instance>();

/**
 * Spawns `node dist/main.js` as a separate process — a real instance with its
 * own Postgres pool and Redis connections — and, unless `ready: false`, waits
 * until GET /health/ready answers 200.
 */
export async function startInstance(
  env: Record<string, string> = {},
  {
    ready = true,
    root,
  }: {
    ready?: boolean;
    /** Another project directory whose built `dist/main.js` to run (test/extending builds a copy). */
    root?: string;
  } = {},
): Promise<Instance> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const child = spawn(process.execPath, [root ? join(root, 'dist', 'main.js') : MAIN], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      HOST: '127.0.0.1',
      // The suite's own job types (src/jobs/testing), built by `npm run build:testing`.
      TEST_MODULES: TEST_JOBS,
      // No background sys:stats publishes, which would move the publish counters
      // and batches other tests measure; test/dashboard turns them on.
      STATS_INTERVAL_MS: '0',
      // The suite drives every instance from 127.0.0.1 in open mode, so one
      // address would meet the per-client limits; test/limits turns them on.
      RATE_LIMIT_PUBLISH_PER_SEC: '0',
      RATE_LIMIT_JOBS_PER_MIN: '0',
      WS_MAX_CONNECTIONS_PER_KEY: '0',
      WS_MAX_CONNECTIONS_PER_IP: '0',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const instance: Instance = {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    process: child,
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const status = await exited;
      running.delete(instance);
      return status;
    },
  };
  running.add(instance);
  if (ready) {
    const died = exited.then((status) => {
      throw new Error(`instance exited (${JSON.stringify(status)}) before it was ready`);
    });
    const becameReady = waitFor(async () => (await fetch(`${instance.url}/health/ready`)).status === 200, {
      timeoutMs: 45_000,
      intervalMs: 100,
      what: `instance on ${port} to be ready`,
    });
    try {
      await Promise.race([becameReady, died]);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n--- output ---\n${output}`);
    } finally {
      died.catch(() => undefined);
    }
  }
  return instance;
}

/** Stops every instance a test file started (call from afterAll). */
export async function stopAllInstances(): Promise<void> {
  await Promise.all([...running].map((i) => i.stop('SIGKILL')));
}
