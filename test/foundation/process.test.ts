import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';

afterAll(stopAllInstances);

describe('process lifecycle', () => {
  it('exits 1 with one line naming PORT when PORT is not a number', async () => {
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: {
        PATH: process.env.PATH,
        PORT: 'abc',
        DATABASE_URL: process.env.DATABASE_URL,
        REDIS_URL: process.env.REDIS_URL,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PORT must be an integer between 1 and 65535 \(got "abc"\)/);
    expect(stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  it('exits 0 within 10 s of SIGTERM when idle', async () => {
    const instance = await startInstance();
    const started = Date.now();
    const status = await instance.stop('SIGTERM');
    expect(status).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('serves liveness, readiness and metrics in a worker-only process', async () => {
    const worker = await startInstance({ ROLE: 'worker' });
    const live = await fetch(`${worker.url}/health/live`);
    expect(live.status).toBe(200);
    const ready = (await (await fetch(`${worker.url}/health/ready`)).json()) as { details: unknown };
    expect(ready.details).toMatchObject({ postgres: { status: 'up' }, redis: { status: 'up' } });
    const metrics = await fetch(`${worker.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await metrics.text()).toMatch(/process_cpu_user_seconds_total\{role="worker"\}/);
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGINT sent the moment it starts listening (workers still connecting)', async () => {
    // BullMQ workers connect in the background after start; a Ctrl-C then
    // used to close them mid-connect and crash on an unhandled Redis error.
    for (let round = 0; round < 3; round++) {
      const instance = await startInstance({ LOG_LEVEL: 'info' }, { ready: false });
      await waitFor(() => /squall listening on/.test(instance.output()), {
        intervalMs: 1,
        what: 'listening',
      });
      const status = await instance.stop('SIGINT');
      expect({ round, status, crashed: /Connection is closed|Unhandled/.test(instance.output()) }).toEqual({
        round,
        status: { code: 0, signal: null },
        crashed: false,
      });
    }
  });
});
