import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../dev/free-port.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/** redis-cli against 127.0.0.1:port; its stdout. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout;
}

export interface RedisClusterHandle {
  ports: number[];
  /** REDIS_CLUSTER_NODES for Squall: `127.0.0.1:p1,127.0.0.1:p2,...`. */
  nodes: string;
  /** SIGKILLs master `i` (by PID) and resolves once it is gone. */
  kill(i: number): Promise<void>;
  /** Starts master `i` again on its port with its nodes file, and waits until the cluster is ok. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private Redis Cluster of `masters` masters (no replicas, no persistence)
 * on free loopback ports, for tests: each node a `redis-server` this helper
 * spawned and stops by PID.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'squall-cluster-'));
  const ports = await distinctFreePorts(masters);
  const procs: (ChildProcess | undefined)[] = [];

  const startNode = async (i: number) => {
    const port = ports[i];
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
        '--maxmemory-policy', 'noeviction',
      ], // prettier-ignore
      { stdio: 'ignore' },
    );
    procs[i] = child;
    await waitFor(async () => (await redisCli(port, 'ping')).trim() === 'PONG', {
      timeoutMs: 10_000,
      what: `redis-server on ${port}`,
    });
  };

  const clusterOk = () =>
    waitFor(
      async () => {
        for (const port of ports) {
          if (!/cluster_state:ok/.test(await redisCli(port, 'cluster', 'info'))) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'cluster_state:ok on every node' },
    );

  const kill = async (i: number) => {
    const child = procs[i];
    procs[i] = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };

  try {
    for (let i = 0; i < masters; i++) await startNode(i);
    await run('redis-cli', [
      '--cluster', 'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', '0',
      '--cluster-yes',
    ]); // prettier-ignore
    await clusterOk();
  } catch (err) {
    for (let i = 0; i < masters; i++) await kill(i);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    kill,
    restart: async (i) => {
      await kill(i);
      await startNode(i);
      await clusterOk();
    },
    stop: async () => {
      for (let i = 0; i < masters; i++) await kill(i);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  // A node also listens on port + 10000 (the cluster bus): keep both free and apart.
  while (ports.size < n) {
    const port = await freePort();
    if (port > 55_000 || [...ports].some((p) => Math.abs(p - port) === 10_000)) continue;
    if (!(await isFree(port + 10_000))) continue;
    ports.add(port);
  }
  return [...ports];
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
