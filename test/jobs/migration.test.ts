import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/infra/database/data-source-options.js';
import { migrations } from '../../src/infra/database/migrations/index.js';
import { createEmptyDatabase } from '../support/database.js';

/** Upgrading a database the previous release wrote: nothing it owed subscribers is lost. */
describe('JobEventsInline migration', () => {
  it('writes the final events still owed (final_event_pending), once, in the new shape', async () => {
    const url = await createEmptyDatabase('squall_jobmig');
    const options = dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 });
    const before = new DataSource({ ...options, migrations: migrations.slice(0, 3) });
    await before.initialize();
    await before.runMigrations();
    const owed = randomUUID();
    const announced = randomUUID();
    for (const id of [owed, announced]) {
      await before.query(
        `INSERT INTO jobs (id, type, state, payload, result, max_attempts, run_at, finished_at, final_event_pending)
         VALUES ($1, 'test.sleep', 'completed', '{"ms":1}', '{"slept":1}', 1, now(), now(), true)`,
        [id],
      );
    }
    // This one's event went out; only the flag was not cleared.
    await before.query(`INSERT INTO channels (name, last_seq) VALUES ($1, 1)`, [`job:${announced}`]);
    await before.query(
      `INSERT INTO messages (channel, seq, id, data, idempotency_key) VALUES ($1, 1, gen_random_uuid(), '{}', 'completed')`,
      [`job:${announced}`],
    );
    await before.destroy();

    const after = new DataSource(options);
    await after.initialize();
    try {
      await after.runMigrations();
      const rows: { channel: string; seq: string; data: { event: string; job: { result: unknown } } }[] =
        await after.query(`SELECT channel, seq::text AS seq, data FROM messages ORDER BY channel, seq`);
      const of = (id: string) => rows.filter((r) => r.channel === `job:${id}`);
      expect(of(owed).map((r) => [r.seq, r.data.event, r.data.job.result])).toEqual([
        ['1', 'completed', { slept: 1 }],
      ]);
      expect(of(announced)).toHaveLength(1);
    } finally {
      await after.destroy();
    }
  });
});

describe('JobOwner migration', () => {
  it('leaves older jobs without owner and their keys in force; down keeps the oldest of a shared key', async () => {
    const url = await createEmptyDatabase('squall_jobowner');
    const options = dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 });
    const index = migrations.findIndex((m) => m.name === 'JobOwner1764210000000');
    const before = new DataSource({ ...options, migrations: migrations.slice(0, index) });
    await before.initialize();
    await before.runMigrations();
    const insert = (db: DataSource, owner?: string) =>
      db.query(
        `INSERT INTO jobs (id, type, payload, max_attempts, run_at, idempotency_key${owner ? ', owner' : ''})
         VALUES ($1, 'test.sleep', '{}', 1, now(), 'k'${owner ? ', $2' : ''}) ON CONFLICT DO NOTHING RETURNING id`,
        owner ? [randomUUID(), owner] : [randomUUID()],
      ) as Promise<{ id: string }[]>;
    const [old] = await insert(before);
    await before.destroy();

    const after = new DataSource({ ...options, migrations: migrations.slice(0, index + 1) });
    await after.initialize();
    try {
      await after.runMigrations();
      expect(await after.query(`SELECT owner FROM jobs WHERE id = $1`, [old.id])).toEqual([{ owner: null }]);
      // The owner-less key space still holds 'k'; alice and bob each get it once.
      expect(await insert(after)).toEqual([]);
      const [alices] = await insert(after, 'alice');
      expect(await insert(after, 'alice')).toEqual([]);
      expect(await insert(after, 'bob')).toHaveLength(1);

      await after.undoLastMigration();
      const keys: { id: string; idempotency_key: string | null }[] = await after.query(
        `SELECT id, idempotency_key FROM jobs ORDER BY created_at, id`,
      );
      expect(keys.filter((k) => k.idempotency_key === 'k').map((k) => k.id)).toEqual([old.id]);
      expect(keys.find((k) => k.id === alices.id)?.idempotency_key).toBeNull();
    } finally {
      await after.destroy();
    }
  });
});
