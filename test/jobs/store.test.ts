import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/infra/config/app-config.js';
import { dataSourceOptions } from '../../src/infra/database/data-source-options.js';
import { JobsStore } from '../../src/jobs/jobs.store.js';
import { createEmptyDatabase } from '../support/database.js';

/** JobsStore's SQL against a real, migrated Postgres: the fences and costs the runner relies on. */
let db: DataSource;
let store: JobsStore;

beforeAll(async () => {
  const url = await createEmptyDatabase('squall_jobstore');
  db = new DataSource(dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 4 }));
  await db.initialize();
  await db.runMigrations();
  store = new JobsStore(db, { MAX_MESSAGE_BYTES: 65536 } as AppConfig);
});

afterAll(async () => {
  await db?.destroy();
});

async function newJob(): Promise<string> {
  const id = randomUUID();
  await store.insert({
    id,
    type: 'demo.sleep',
    payload: { ms: 1 },
    maxAttempts: 3,
    priority: 0,
    delayMs: 0,
    checkAfterMs: 1000,
  });
  return id;
}

const count = async (sql: string, params: unknown[]) =>
  Number(((await db.query(sql, params)) as { n: string }[])[0].n);

describe('JobsStore', () => {
  it('activating again under the same lease (a retry after a lost answer) starts no second attempt', async () => {
    const id = await newJob();
    const lease = randomUUID();
    expect(await store.activate(id, lease, 10_000)).toMatchObject({ attempts: 1, lease });
    expect(await store.activate(id, lease, 10_000)).toBeNull();
    expect(await store.get(id)).toMatchObject({ state: 'active', attempts: 1, lease });
  });

  it('a live lease is not taken over; one its worker stopped renewing is', async () => {
    const id = await newJob();
    const first = randomUUID();
    await store.activate(id, first, 10_000);
    expect(await store.activate(id, randomUUID(), 10_000)).toBeNull();
    await db.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    const second = randomUUID();
    expect(await store.activate(id, second, 10_000)).toMatchObject({ attempts: 2, lease: second });
    // The old attempt's heartbeat is refused and told the job is no longer its own.
    expect(await store.heartbeat([{ id, lease: first }], 10_000)).toEqual([
      { id, lease: first, state: 'active' },
    ]);
    expect(await store.heartbeat([{ id, lease: second }], 10_000)).toEqual([]);
  });

  it('writes each event in the transition statement: in order, and none from a fenced-out attempt', async () => {
    const id = await newJob();
    const lease = randomUUID();
    await store.activate(id, lease, 10_000);
    await store.progress(id, lease, 40);
    await store.cancel(id);
    expect(await store.progress(id, lease, 60)).toBeNull();
    expect(await store.complete(id, lease, '{}')).toBeNull();
    const events: { seq: string; data: { event: string; attempt: number } }[] = await db.query(
      `SELECT seq::text AS seq, data FROM messages WHERE channel = $1 ORDER BY seq`,
      [`job:${id}`],
    );
    expect(events.map((e) => [Number(e.seq), e.data.event, e.data.attempt])).toEqual([
      [1, 'active', 1],
      [2, 'progress', 1],
      [3, 'cancelled', 1],
    ]);
  });

  it('retention deletes a finished job with its channel and the channel’s messages', async () => {
    const id = await newJob();
    const kept = await newJob();
    const lease = randomUUID();
    await store.activate(id, lease, 10_000);
    await store.complete(id, lease, '{"ok":true}');
    // Also a message written the way an older release did (its own statement).
    await db.query(`INSERT INTO channels (name, last_seq) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING`, [
      `job:${id}`,
    ]);
    await db.query(
      `INSERT INTO messages (channel, seq, id, data) VALUES ($1, 1000, gen_random_uuid(), '{}')`,
      [`job:${id}`],
    );
    await db.query(`UPDATE jobs SET finished_at = now() - interval '2 hours' WHERE id = $1`, [id]);
    expect(
      await count(`SELECT count(*) AS n FROM messages WHERE channel = $1`, [`job:${id}`]),
    ).toBeGreaterThan(0);

    expect(await store.deleteFinished(3600)).toBe(1);
    expect(await store.get(id)).toBeNull();
    expect(await store.get(kept)).not.toBeNull();
    expect(await count(`SELECT count(*) AS n FROM channels WHERE name = $1`, [`job:${id}`])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM messages WHERE channel = $1`, [`job:${id}`])).toBe(0);
  });

  it('a reconciler pass reads only the rows that are due, by index, however many wait', async () => {
    await db.query(
      `INSERT INTO jobs (id, type, payload, max_attempts, run_at, check_at)
       SELECT gen_random_uuid(), 'bench.noop', '{}', 1, now(), now() + interval '1 hour' FROM generate_series(1, 20000)`,
    );
    const due = randomUUID();
    await db.query(
      `INSERT INTO jobs (id, type, payload, max_attempts, run_at, check_at)
       VALUES ($1, 'bench.noop', '{}', 1, now(), now() - interval '1 second')`,
      [due],
    );
    await db.query('ANALYZE jobs');
    const plan = JSON.stringify(
      await db.query(
        `EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM jobs
         WHERE state IN ('queued', 'active') AND check_at <= now() AND type = ANY($1)
         ORDER BY check_at LIMIT 200`,
        [['bench.noop']],
      ),
    );
    expect(plan).toContain('jobs_check_due_idx');
    const claimed = await store.claimDue(['bench.noop'], 200, 1000, 60_000);
    expect(claimed.map((r) => r.id)).toEqual([due]);
    // Claimed rows are due again later, not at once.
    expect(await store.claimDue(['bench.noop'], 200, 1000, 60_000)).toEqual([]);
  });
});
