import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Runs one query against `url` on a fresh connection. */
export async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A new, empty database on the test server; returns its URL. */
export async function createEmptyDatabase(prefix = 'squall_t'): Promise<string> {
  const base = process.env.DATABASE_URL!;
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await query(base, `CREATE DATABASE "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Applies the migrations to `url`, as an instance does at start (for tests that start none). */
export async function migrate(url: string): Promise<void> {
  const { DataSource } = await import('typeorm');
  const { dataSourceOptions } = await import('../../src/infra/database/data-source-options.js');
  const { runMigrationsLocked } = await import('../../src/infra/database/migrate.js');
  const db = await new DataSource(
    dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }),
  ).initialize();
  try {
    await runMigrationsLocked(db);
  } finally {
    await db.destroy();
  }
}
