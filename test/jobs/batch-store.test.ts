import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/infra/config/app-config.js';
import { dataSourceOptions } from '../../src/infra/database/data-source-options.js';
import { JobsBatchStore } from '../../src/jobs/jobs-batch.store.js';
import type { NewJob } from '../../src/jobs/jobs.store.js';
import { JobsStore } from '../../src/jobs/jobs.store.js';
import { createEmptyDatabase } from '../support/database.js';

/**
 * JobsBatchStore against a real Postgres: calls made together go in one
 * statement, and each row keeps the fence and the event of its one-row form.
 */
let db: DataSource;
let store: JobsStore;
let batched: JobsBatchStore;
let statements: string[] = [];

beforeAll(async () => {
  const url = await createEmptyDatabase('squall_jobbatch');
  db = new DataSource(dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 4 }));
  await db.initialize();
  await db.runMigrations();
  store = new JobsStore(db, { MAX_MESSAGE_BYTES: 65536 } as AppConfig);
  batched = new JobsBatchStore(store);
  // Counts the statements sent, by their first words: through TypeORM, and
  // the prepared ones JobsStore sends straight to its pool (src/jobs/prepared.ts).
  const query = db.query.bind(db);
  db.query = ((sql: string, params?: unknown[]) => {
    statements.push(sql.trim().slice(0, 30));
    return query(sql, params);
  }) as typeof db.query;
  const pool = (db.driver as unknown as { master: { query: (q: { text: string }) => Promise<unknown> } })
    .master;
  const poolQuery = pool.query.bind(pool);
  pool.query = (q: { text: string }) => {
    statements.push(q.text.trim().slice(0, 30));
    return poolQuery(q);
  };
});

afterAll(async () => {
  await db?.destroy();
});

const job = (over: Partial<NewJob> = {}): NewJob => ({
  id: randomUUID(),
  type: 'test.sleep',
  payload: { ms: 1 },
  maxAttempts: 3,
  priority: 0,
  delayMs: 0,
  checkAfterMs: 1000,
  owner: null,
  ...over,
});

const events = async (id: string) =>
  (
    (await db.query(
      `SELECT seq::int, data->>'event' AS event FROM messages WHERE channel = $1 ORDER BY seq`,
      [`job:${id}`],
    )) as { seq: number; event: string }[]
  ).map((e) => `${e.seq}:${e.event}`);

describe('JobsBatchStore', () => {
  it('inserts concurrent submits in one statement; a taken idempotency key answers the original job', async () => {
    const original = await store.insert(job({ idempotencyKey: `k-${randomUUID()}` }));
    statements = [];
    const jobs = Array.from({ length: 6 }, () => job());
    const replay = job({ idempotencyKey: original.row.idempotency_key! });
    const answers = await Promise.all([...jobs, replay].map((j) => batched.insert(j)));
    expect(answers.slice(0, 6).map((a) => [a.row.id, a.created])).toEqual(jobs.map((j) => [j.id, true]));
    expect(answers[6]).toMatchObject({ created: false, row: { id: original.row.id } });
    // One INSERT for all seven; the replay then takes the one-row path (INSERT refused, SELECT by key).
    expect(statements.filter((s) => s.startsWith('INSERT')).length).toBe(2);
  });

  it('activates, reports progress and completes many jobs in one statement each, every event on its own channel', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => store.insert(job()).then((r) => r.row.id)));
    const leases = ids.map(() => randomUUID());
    statements = [];
    const active = await Promise.all(ids.map((id, i) => batched.activate(id, leases[i], 10_000)));
    active.forEach((row, i) =>
      expect(row).toMatchObject({ id: ids[i], lease: leases[i], state: 'active', attempts: 1, ev_seq: '1' }),
    );
    // Two statements in flight at once: the first call alone, the rest together.
    expect(statements.length).toBeLessThanOrEqual(3);

    const progressed = await Promise.all(ids.map((id, i) => batched.progress(id, leases[i], 10 * (i + 1))));
    progressed.forEach((row, i) => expect(row).toMatchObject({ progress: 10 * (i + 1), ev_seq: '2' }));
    const done = await Promise.all(
      ids.map((id, i) => batched.complete(id, leases[i], JSON.stringify({ i }))),
    );
    done.forEach((row) => expect(row).toMatchObject({ state: 'completed', ev_seq: '3' }));
    expect(statements.length).toBeLessThanOrEqual(9);
    for (const id of ids) expect(await events(id)).toEqual(['1:active', '2:progress', '3:completed']);
    expect((await store.get(ids[3]))!.result).toEqual({ i: 3 });
  });

  it('keeps each row fenced: a stale lease, a final job and a duplicate activation match nothing', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => store.insert(job()).then((r) => r.row.id)));
    const [la, lb, lc] = [randomUUID(), randomUUID(), randomUUID()];
    await Promise.all([
      batched.activate(a, la, 10_000),
      batched.activate(b, lb, 10_000),
      batched.activate(c, lc, 10_000),
    ]);
    await store.cancel(b);
    const [wrongLease, cancelled, ok, again] = await Promise.all([
      batched.complete(a, randomUUID(), '1'),
      batched.complete(b, lb, '2'),
      batched.complete(c, lc, '3'),
      // The same job twice in one batch: the second goes alone, and finds it final.
      batched.complete(c, lc, '4'),
    ]);
    expect([wrongLease, cancelled, again]).toEqual([null, null, null]);
    expect(ok).toMatchObject({ id: c, state: 'completed' });
    expect((await store.get(c))!.result).toBe(3);
    expect(await events(a)).toEqual(['1:active']);
    expect(await events(b)).toEqual(['1:active', '2:cancelled']);
    expect(await events(c)).toEqual(['1:active', '2:completed']);
  });

  it('a value Postgres refuses fails only its own item: the batch is redone one by one', async () => {
    const ids = await Promise.all([1, 2, 3].map(() => store.insert(job()).then((r) => r.row.id)));
    const leases = ids.map(() => randomUUID());
    await Promise.all(ids.map((id, i) => batched.activate(id, leases[i], 10_000)));
    const results = await Promise.allSettled([
      batched.complete(ids[0], leases[0], '{"ok":1}'),
      batched.complete(ids[1], leases[1], '"\\u0000"'),
      batched.complete(ids[2], leases[2], '{"ok":3}'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await store.get(ids[1]))!.state).toBe('active');
    expect((await store.get(ids[2]))!.state).toBe('completed');
  });
});
