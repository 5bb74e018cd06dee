import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../dev/free-port.js';
import { post, uniqueChannel } from '../support/http.js';
import { alive, processTree } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient } from '../support/ws-client.js';

const CLUSTER = join(process.cwd(), 'dist-dev', 'cluster.js');
const cwd = mkdtempSync(join(tmpdir(), 'squall-cluster-'));
// `npm run cluster` is `npm run build && npm run build:dev && exec node dist-dev/cluster.js`. The
// same script minus the build (no rebuilding dist/ under the other tests'
// feet), run through npm itself, which passes a Ctrl-C on once more.
writeFileSync(
  join(cwd, 'package.json'),
  JSON.stringify({ private: true, scripts: { cluster: `exec "${process.execPath}" "${CLUSTER}"` } }),
);
let child: ChildProcess | undefined;
afterAll(() => {
  if (child?.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('npm run cluster', () => {
  it('starts Postgres, Redis, 2 api,gateway instances, a worker and nginx; serves through nginx naming the instance; Ctrl-C stops everything and exits 0', async () => {
    const port = await freePort();
    // Only PATH and HOME, as on a fresh machine: Postgres and Redis are started too.
    child = spawn(
      'npm',
      ['run', 'cluster', '--', '--instances', '2', '--workers', '1', '--port', String(port)],
      {
        cwd,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_update_notifier: 'false' },
        // A process group of its own, as a terminal's foreground job.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
    await waitFor(
      () => {
        if (child!.exitCode !== null) throw new Error(`exited ${child!.exitCode}: ${stdout}${stderr}`);
        return /ready on http/.test(stdout) && /Ctrl-C stops everything/.test(stdout);
      },
      { what: `the cluster to be ready (${stdout}${stderr})`, timeoutMs: 150_000, intervalMs: 100 },
    );
    const url = /ready on (http:\/\/\S+)/.exec(stdout)![1];
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const rows = [...stdout.matchAll(/^\s+(api-\d+|worker-\d+|nginx)\s+(\S+)\s+(\d+)\s+(\d+)$/gm)].map(
      ([, name, role, pid, p]) => ({ name, role, pid: Number(pid), port: Number(p) }),
    );
    expect(rows.map(({ name, role }) => `${name} ${role}`)).toEqual([
      'api-1 api,gateway',
      'api-2 api,gateway',
      'worker-1 worker',
      'nginx balancer',
    ]);
    const processes = processTree(child.pid!);
    expect(processes.map((p) => p.comm)).toEqual(
      expect.arrayContaining(['postgres', 'redis-server', 'nginx']),
    );
    for (const row of rows) expect(processes.map((p) => p.pid)).toContain(row.pid);

    // nginx spreads requests over both gateways; each answer says which one.
    const seen = new Set<string>();
    await waitFor(
      async () => {
        seen.add((await fetch(`${url}/health/live`)).headers.get('x-squall-instance') ?? 'none');
        return seen.size >= 2;
      },
      { what: 'answers from two instances', timeoutMs: 10_000, intervalMs: 1 },
    );
    expect([...seen].sort()).toEqual(['api-1', 'api-2']);
    const worker = rows.find((r) => r.name === 'worker-1')!;
    const workerReady = await fetch(`http://127.0.0.1:${worker.port}/health/ready`);
    expect([workerReady.status, workerReady.headers.get('x-squall-instance')]).toEqual([200, 'worker-1']);

    // Publish and receive through nginx.
    const channel = uniqueChannel('cluster');
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/ws`);
    const subscribed = await client.subscribe(channel);
    expect(['api-1', 'api-2']).toContain(subscribed.data.instance);
    const published = await post(url, `/v1/channels/${channel}/messages`, { data: { hello: 'cluster' } });
    expect(published.status).toBe(201);
    expect(['api-1', 'api-2']).toContain(published.headers.get('x-squall-instance'));
    const [message] = await client.waitForMessages(channel, 1);
    expect(message.data).toEqual({ hello: 'cluster' });

    // Ctrl-C: SIGINT to the whole process group (npm passes it on once more).
    process.kill(-child.pid!, 'SIGINT');
    expect((await client.closed).code).toBe(1001); // the instance drained, through nginx
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');
    expect(processes.filter((p) => alive(p.pid))).toEqual([]);
    for (const row of rows) expect(await listening(row.port)).toBe(false);
  }, 180_000);
});
