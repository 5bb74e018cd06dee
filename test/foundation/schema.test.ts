import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/infra/database/data-source-options.js';
import { entities } from '../../src/entities.js';
import { runMigrationsLocked } from '../../src/infra/database/migrate.js';
import { createEmptyDatabase } from '../support/database.js';

/**
 * The schema check: migrate an empty database, then ask TypeORM what it would
 * change to make the tables match the entities (what `migration:generate`
 * would write). Anything at all means the two disagree.
 */
describe('schema', () => {
  it('the migrations build exactly the tables the entities describe', async () => {
    const url = await createEmptyDatabase('squall_schema');
    const db = await new DataSource({
      ...dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }),
      entities,
    }).initialize();
    try {
      await runMigrationsLocked(db);
      const pending = await db.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
