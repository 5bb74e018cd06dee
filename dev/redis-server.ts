import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { freePort } from './free-port.js';
import { spawnServer } from './server-process.js';
import { ensureCommand } from './system-command.js';

const HINT =
  'no redis-server found. Install one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) ' +
  'or run one in Docker (docker compose -f docker/compose.yml up redis) and set REDIS_URL.';

/** `redis-server`, installed from Debian's package when missing and possible. */
export function ensureRedisServer(log: (line: string) => void): string {
  return ensureCommand('redis-server', { debianPackage: 'redis-server', hint: HINT, log });
}

export interface RedisHandle {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server on a loopback port. No persistence: the dev
 * and test servers hold only pub/sub and queues that Postgres can rebuild.
 */
export async function startRedis(
  options: { port?: number; dir?: string; log?: (l: string) => void } = {},
): Promise<RedisHandle> {
  const bin = ensureRedisServer(options.log ?? (() => {}));
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? process.cwd();
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  // In a process group of its own: see spawnServer.
  const server = spawnServer(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--maxmemory-policy',
      'noeviction',
      '--loglevel',
      'warning',
    ],
    { stopSignal: 'SIGTERM' },
  );
  await waitForPort(port, server.child, server.stderr).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const url = `redis://127.0.0.1:${port}`;
  return { url, port, process: server.child, stop: server.stop };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
