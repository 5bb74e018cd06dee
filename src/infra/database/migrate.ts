import type { DataSource } from 'typeorm';

/** Arbitrary but fixed: every Squall instance contends on this advisory lock key. */
export const MIGRATION_LOCK_KEY = 0x5c0a11;

/**
 * Runs pending migrations while holding a session-level advisory lock, so that N
 * instances starting together against an empty database apply the schema once:
 * the first one migrates, the others wait and then find nothing to do.
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    const names = applied.map((m) => m.name);
    log(names.length ? `applied migrations: ${names.join(', ')}` : 'schema up to date');
    return names;
  } finally {
    await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockRunner.release();
  }
}
