import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../dev/free-port.js';
import { TEST_JOBS } from '../support/instance.js';
import { alive, processTree } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

const START = join(process.cwd(), 'dist-dev', 'start.js');
const cwd = mkdtempSync(join(tmpdir(), 'squall-dev-'));
// `npm start` is `npm run build && npm run build:dev && exec node dist-dev/start.js`. The same
// script minus the build, so the tests run npm itself (which passes a Ctrl-C
// on to the service) without rebuilding dist/ under the other tests' feet.
writeFileSync(
  join(cwd, 'package.json'),
  JSON.stringify({ private: true, scripts: { start: `exec "${process.execPath}" "${START}"` } }),
);
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

interface DevStack {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  pgPort: number;
  redisPort: number;
  /** The processes the stack runs under the spawned one, seen once it was ready. */
  servers: { pid: number; comm: string }[];
  /** Resolves when stdout matches `pattern`. */
  printed(pattern: RegExp): Promise<void>;
}

/**
 * Spawns the dev stack (`node dist-dev/start.js`, or through `npm start`)
 * with only PATH (no DATABASE_URL or REDIS_URL, as on a fresh machine) and
 * waits until it is ready. `detached`: it leads a process group of its own,
 * as a terminal's foreground job does.
 */
async function startDevStack(
  via: 'node' | 'npm',
  { detached = false, port }: { detached?: boolean; port: number },
): Promise<DevStack> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), TEST_MODULES: TEST_JOBS };
  const child =
    via === 'node'
      ? spawn(process.execPath, [START], { cwd, env, detached, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('npm', ['start'], {
          cwd,
          env: { ...env, npm_config_update_notifier: 'false' },
          detached,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of watchers) w();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  try {
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      { what: 'the dev stack to be ready', timeoutMs: 90_000 },
    );
  } catch (err) {
    if (detached) process.kill(-child.pid!, 'SIGKILL');
    else child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stdout}${stderr}`);
  }
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    pgPort: Number(/DATABASE_URL=postgres:\/\/[^@]+@127\.0\.0\.1:(\d+)\//.exec(stdout)?.[1]),
    redisPort: Number(/REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]),
    servers: processTree(child.pid!),
    printed: (pattern) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!pattern.test(stdout)) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      }),
  };
}

const LOG_PROBLEM = /\b(WARN|ERROR|FATAL)\b/;

/** Submits a test.sleep job of `ms` and resolves once a worker runs it. */
async function runJob(port: number, ms: number): Promise<void> {
  const submitted = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'test.sleep', payload: { ms, steps: Math.ceil(ms / 1000) } }),
  });
  const { id } = (await submitted.json()) as { id: string };
  await waitFor(
    async () =>
      ((await (await fetch(`http://127.0.0.1:${port}/v1/jobs/${id}`)).json()) as { state: string }).state ===
      'active',
    { what: 'the job to run' },
  );
}

describe('npm start (the dev stack)', () => {
  it('starts embedded Postgres and a redis-server, serves, and on SIGTERM exits 0 having stopped both', async () => {
    const port = await freePort();
    const stack = await startDevStack('node', { port });
    expect(stack.stdout()).toContain(`serving on http://localhost:${port}`);
    expect(await listening(stack.pgPort)).toBe(true);
    expect(await listening(stack.redisPort)).toBe(true);

    stack.child.kill('SIGTERM');
    expect(await stack.exited).toEqual({ code: 0, signal: null });
    expect(await listening(stack.redisPort)).toBe(false);
    expect(await listening(stack.pgPort)).toBe(false);
  }, 120_000);

  // A terminal sends Ctrl-C's SIGINT to its whole foreground process group:
  // the service and, unless they run in groups of their own, its Postgres and
  // redis-server. Through npm the service gets it a second time, from npm.
  it.each(['node', 'npm'] as const)(
    'Ctrl-C (SIGINT to the process group) via %s: a short shutdown, exit 0 within 5 s, no WARN/ERROR, no postgres or redis-server left',
    async (via) => {
      const port = await freePort();
      const stack = await startDevStack(via, { detached: true, port });
      const servers = stack.servers;
      expect(servers.map((p) => p.comm)).toEqual(expect.arrayContaining(['postgres', 'redis-server']));
      // The drain has work to finish against the stack: the worker lets the job
      // end (about 2 s from now) and records it in Redis.
      await runJob(port, 2000);
      const before = stack.stdout().length;

      const sent = Date.now();
      process.kill(-stack.child.pid!, 'SIGINT');
      const status = await Promise.race([
        stack.exited,
        new Promise((resolve) => setTimeout(() => resolve('still running after 15 s'), 15_000).unref()),
      ]);
      const took = Date.now() - sent;
      if (status === 'still running after 15 s') process.kill(-stack.child.pid!, 'SIGKILL');
      const shutdownOutput = stack.stdout().slice(before);
      const problems = shutdownOutput.split('\n').filter((l) => LOG_PROBLEM.test(l));
      // One comparison, so that a failure shows the whole shutdown.
      expect({
        status,
        exitedWithin5s: took < 5000,
        saidWhy: shutdownOutput.includes('SIGINT received, shutting down'),
        problems: problems.length ? [`${problems.length} lines, the first:`, ...problems.slice(0, 3)] : [],
        stderr: stack.stderr(),
      }).toEqual({
        status: { code: 0, signal: null },
        exitedWithin5s: true,
        saidWhy: true,
        problems: [],
        stderr: '',
      });
      // The service waited for both to exit: nothing of the stack is left, not even for a moment.
      expect(servers.filter((p) => alive(p.pid))).toEqual([]);
      expect(await listening(stack.redisPort)).toBe(false);
      expect(await listening(stack.pgPort)).toBe(false);
    },
    120_000,
  );

  it('a second Ctrl-C while draining exits at once with status 1, and Postgres and redis-server still stop', async () => {
    const port = await freePort();
    const stack = await startDevStack('npm', { detached: true, port });
    const servers = stack.servers;
    // A job that outlasts the drain's budget keeps the shutdown busy.
    await runJob(port, 60_000);

    process.kill(-stack.child.pid!, 'SIGINT');
    await stack.printed(/SIGINT received, shutting down/);
    // The same signal within a second counts as the first one delivered twice
    // (npm passes Ctrl-C on): this wait is the human's pause, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(stack.child.exitCode).toBeNull(); // still draining: the job holds it
    const sent = Date.now();
    process.kill(-stack.child.pid!, 'SIGINT');
    expect(await stack.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(stack.stderr()).toContain('second signal (SIGINT): exiting without finishing the shutdown');
    // Told to stop as the service exited, they finish on their own.
    await waitFor(() => servers.every((p) => !alive(p.pid)), {
      what: `${servers.map((p) => `${p.comm} ${p.pid}`).join(', ')} to exit`,
      timeoutMs: 10_000,
    });
    expect(await listening(stack.redisPort)).toBe(false);
    expect(await listening(stack.pgPort)).toBe(false);
  }, 120_000);
});
