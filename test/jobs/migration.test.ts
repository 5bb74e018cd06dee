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
         VALUES ($1, 'demo.sleep', 'completed', '{"ms":1}', '{"slept":1}', 1, now(), now(), true)`,
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
