import pg from 'pg';
import { get, uniqueChannel } from '../support/http.js';
import { isolatedEnv } from '../support/jobs.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { scrape } from '../support/metrics.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A pool of 2 connections, both held by requests the test keeps waiting on a
 * table lock: a third request finds no connection within the pool's connect
 * timeout (5 s) and is answered 503 "database unavailable". That answer says
 * nothing of the cause, so the instance logs it (warn, with the pool's state)
 * and /metrics shows the failed wait and the waiting clients.
 */
let app: Instance;
let locker: pg.Client | undefined;
afterAll(async () => {
  await locker?.end().catch(() => undefined);
  await stopAllInstances();
});

const sample = async (name: string, labels: Record<string, string> = {}) => {
  const { samples } = await scrape(app);
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
};

describe('Postgres pool exhaustion', () => {
  it('answers 503, logs a warn line with the pool state, and exports the wait time and waiting clients', async () => {
    const env = await isolatedEnv();
    app = await startInstance({ ...env, ROLE: 'api', DATABASE_POOL_SIZE: '2' });
    const channel = uniqueChannel('pool');
    expect((await get(app.url, `/v1/channels/${channel}/messages`)).status).toBe(200);
    expect(await sample('squall_postgres_pool_wait_seconds_count', { outcome: 'acquired' })).toBeGreaterThan(
      0,
    );

    locker = new pg.Client({ connectionString: env.DATABASE_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE channels, messages IN ACCESS EXCLUSIVE MODE');
    // Two reads take both connections and wait on the lock.
    const held = [1, 2].map(() => get(app.url, `/v1/channels/${uniqueChannel('pool')}/messages`));
    await waitFor(
      async () =>
        (await sample('squall_postgres_pool_connections', { state: 'total' })) === 2 &&
        (await sample('squall_postgres_pool_connections', { state: 'idle' })) === 0,
      { what: 'both pool connections busy' },
    );

    const starved = get(app.url, `/v1/channels/${channel}/messages`);
    await waitFor(async () => (await sample('squall_postgres_pool_connections', { state: 'waiting' })) >= 1, {
      what: 'a request waiting for a connection',
    });
    const answer = await starved;
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ statusCode: 503, message: 'database unavailable' });

    const warn = await waitFor(
      () =>
        app
          .output()
          .split('\n')
          .filter((l) => l.includes('Postgres pool exhausted'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)[0],
      { what: 'the pool exhaustion warning' },
    );
    expect(warn).toMatchObject({
      level: 40,
      pool: { max: 2, total: 2, idle: 0 },
      waitedMs: expect.any(Number),
    });
    expect(warn.waitedMs as number).toBeGreaterThanOrEqual(4000);
    expect(await sample('squall_postgres_pool_wait_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(await sample('squall_postgres_pool_wait_seconds_bucket', { outcome: 'failed', le: '1' })).toBe(0);

    await locker.query('ROLLBACK');
    // The held requests finish once the lock is gone, and the pool serves again.
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect((await get(app.url, `/v1/channels/${channel}/messages`)).status).toBe(200);
    expect(await sample('squall_postgres_pool_connections', { state: 'waiting' })).toBe(0);
  }, 60_000);
});
