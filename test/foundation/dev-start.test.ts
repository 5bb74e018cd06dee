import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev/free-port.js';
import { waitFor } from '../support/wait-for.js';

const START = join(process.cwd(), 'dist', 'dev', 'start.js');
const cwd = mkdtempSync(join(tmpdir(), 'squall-dev-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('npm start (the dev stack)', () => {
  it('starts embedded Postgres and a redis-server, serves, and on SIGTERM exits 0 having stopped both', async () => {
    const port = await freePort();
    // Only PATH: no DATABASE_URL or REDIS_URL, as on a fresh machine.
    const child = spawn(process.execPath, [START], {
      cwd,
      env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(child, 'exit');
    try {
      await waitFor(
        async () =>
          (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
        { what: 'the dev stack to be ready', timeoutMs: 90_000 },
      );
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${output}`);
    }
    const pgPort = Number(/DATABASE_URL=postgres:\/\/[^@]+@127\.0\.0\.1:(\d+)\//.exec(output)?.[1]);
    const redisPort = Number(/REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    expect(output).toContain(`serving on http://localhost:${port}`);
    expect(await listening(pgPort)).toBe(true);
    expect(await listening(redisPort)).toBe(true);

    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(await listening(redisPort)).toBe(false);
    expect(await listening(pgPort)).toBe(false);
  }, 120_000);
});
