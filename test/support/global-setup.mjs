/**
 * Starts the real Postgres and Redis the integration tests talk to, unless
 * DATABASE_URL and REDIS_URL are given. Uses the same dev-stack code as
 * `npm start`, with a throwaway data directory.
 */
import { rmSync } from 'node:fs';
import { constants } from 'node:os';
// Jest loads global setup outside its ESM pipeline, so this uses the build
// (`npm test` builds first; integration tests spawn dist/main.js anyway).
import { startPostgres } from '../../dist-dev/postgres.js';
import { startRedis } from '../../dist-dev/redis-server.js';

export default async function globalSetup() {
  const stack = [];
  // Stops what was started, last first; global-teardown calls it too.
  const stopStack = async () => {
    for (const stop of stack.splice(0).reverse()) await stop().catch(() => undefined);
  };
  globalThis.__squallStopStack = stopStack;
  // The servers run in process groups of their own (as for `npm start`), so a
  // Ctrl-C on `npm test` no longer reaches them: stop them here, then exit as
  // the signal would have made Jest exit. If a server is not down within 5 s,
  // exit anyway: the 'exit' event still tells it to stop (see spawnServer).
  let stopping = false;
  const onSignal = (signal) => {
    if (stopping) return;
    stopping = true;
    const code = 128 + constants.signals[signal];
    setTimeout(() => process.exit(code), 5000).unref();
    void stopStack().finally(() => process.exit(code));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);

  if (!process.env.DATABASE_URL) {
    const dir = `.squall/test-pg-${process.pid}`;
    rmSync(dir, { recursive: true, force: true });
    const pg = await startPostgres({ dir, database: 'squall_test' });
    process.env.DATABASE_URL = pg.url;
    stack.push(async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    });
  }
  if (!process.env.REDIS_URL) {
    const redis = await startRedis({ dir: '.squall' });
    process.env.REDIS_URL = redis.url;
    stack.push(() => redis.stop());
  }
}
