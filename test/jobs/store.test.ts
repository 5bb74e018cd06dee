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

async function newJob(owner: string | null = null, idempotencyKey?: string): Promise<string> {
  const { row } = await store.insert({
    id: randomUUID(),
    type: 'test.sleep',
    payload: { ms: 1 },
    maxAttempts: 3,
    priority: 0,
    delayMs: 0,
    checkAfterMs: 1000,
    owner,
    idempotencyKey,
  });
  return row.id;
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

  describe('owners', () => {
    it('keeps idempotency keys per owner: the same key from two owners makes two jobs', async () => {
      const [alice, bob] = [`alice-${randomUUID()}`, `bob-${randomUUID()}`];
      const key = `k-${randomUUID()}`;
      const a = await newJob(alice, key);
      const b = await newJob(bob, key);
      expect(b).not.toBe(a);
      expect(await newJob(alice, key)).toBe(a);
      expect(await newJob(bob, key)).toBe(b);
      // Open mode's owner-less jobs share one key space, as before owners.
      const open = await newJob(null, key);
      expect([a, b]).not.toContain(open);
      expect(await newJob(null, key)).toBe(open);
      expect((await store.byIdempotencyKey(alice, key))?.id).toBe(a);
      expect((await store.byIdempotencyKey(null, key))?.id).toBe(open);
      expect(await store.byIdempotencyKey(`carol-${randomUUID()}`, key)).toBeNull();
    });

    it("reads and cancels a job only within the caller's scope; an owner-less scope reaches nothing", async () => {
      const alice = `alice-${randomUUID()}`;
      const id = await newJob(alice);
      expect(await store.get(id, { owner: alice })).toMatchObject({ id, owner: alice });
      expect(await store.get(id, { owner: 'bob' })).toBeNull();
      expect(await store.get(id, { owner: null })).toBeNull();
      expect(await store.get(id, 'all')).toMatchObject({ id });
      expect(await store.ownerOf(id)).toBe(alice);
      expect(await store.ownerOf(randomUUID())).toBeUndefined();
      expect(await store.ownerOf(await newJob(null))).toBeNull();

      expect(await store.cancel(id, { owner: 'bob' })).toBeNull();
      expect((await store.get(id))?.state).toBe('queued');
      expect(await store.cancel(id, { owner: alice })).toMatchObject({ row: { id, state: 'cancelled' } });
      // The event carries the owner, as GET does.
      const [event] = (await db.query(`SELECT data FROM messages WHERE channel = $1`, [`job:${id}`])) as {
        data: { job: { owner: string } };
      }[];
      expect(event.data.job.owner).toBe(alice);
    });

    it("lists one owner's jobs newest first, page by page, through the (owner, created_at, id) index", async () => {
      const alice = `alice-${randomUUID()}`;
      const mine: string[] = [];
      for (let i = 0; i < 5; i++) mine.unshift(await newJob(alice));
      await newJob(`bob-${randomUUID()}`);
      const first = await store.list({ scope: { owner: alice }, limit: 3 });
      expect(first.map((r) => r.id)).toEqual(mine.slice(0, 4)); // limit + 1 says more follow
      const last = first[2];
      const rest = await store.list({
        scope: { owner: alice },
        limit: 3,
        after: { createdUs: last.created_us, id: last.id },
      });
      expect(rest.map((r) => r.id)).toEqual(mine.slice(3));
      expect(await store.list({ scope: { owner: null }, limit: 3 })).toEqual([]);

      await db.query(
        `INSERT INTO jobs (id, type, payload, max_attempts, run_at, owner)
         SELECT gen_random_uuid(), 'bench.owned', '{}', 1, now(), 'user-' || (i % 500)
         FROM generate_series(1, 20000) i`,
      );
      await db.query('ANALYZE jobs');
      const plan = JSON.stringify(
        await db.query(
          `EXPLAIN (FORMAT JSON) SELECT id FROM jobs WHERE owner = $1
           ORDER BY created_at DESC, id DESC LIMIT 21`,
          ['user-7'],
        ),
      );
      expect(plan).toContain('jobs_owner_created_idx');
    });
  });
});
