/**
 * `node dist/migrate.js`: applies pending migrations and exits (0 done, 1
 * failed). For a one-shot migration step before a deploy (compose's `migrate`
 * service, a Kubernetes Job) with the production image as it is: plain
 * Node, production dependencies only, no tsc and no TypeORM CLI. Needs only
 * DATABASE_URL. Takes the same advisory lock as migrate-at-start, so it is
 * safe beside instances that still migrate at start (MIGRATIONS_RUN).
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { configFields } from './infra/config/config.schema.js';
import { dataSourceOptions } from './infra/database/data-source-options.js';
import { runMigrationsLocked } from './infra/database/migrate.js';

const say = (line: string) => process.stdout.write(`squall migrate: ${line}\n`);

async function migrate(): Promise<void> {
  const parsed = configFields.shape.DATABASE_URL.safeParse(process.env.DATABASE_URL || undefined);
  if (!parsed.success) {
    const why = process.env.DATABASE_URL ? parsed.error.issues[0].message : 'is required';
    process.stderr.write(`squall migrate: DATABASE_URL ${why}\n`);
    process.exit(1);
  }
  // No statement timeout: a schema change may rightly take long.
  const dataSource = new DataSource(
    dataSourceOptions({ DATABASE_URL: parsed.data, DATABASE_POOL_SIZE: 2, DATABASE_STATEMENT_TIMEOUT_MS: 0 }),
  );
  try {
    await dataSource.initialize();
    await runMigrationsLocked(dataSource, say);
  } catch (err) {
    process.stderr.write(`squall migrate: failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  }
}

void migrate();
