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
