/**
 * docker/smoke.sh's Postgres and Redis: the dev stack (dist-dev/, `npm run
 * build:dev`) in a throwaway directory. Writes `{databaseUrl, redisUrl}` to
 * the file given as argv[3] once both answer, and stops them on SIGTERM/SIGINT.
 *
 *   node docker/smoke-stack.mjs <dir> <urls.json>
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, out] = process.argv.slice(2);
const devStack = (file) => pathToFileURL(resolve('dist-dev', file)).href;
const { startPostgres } = await import(devStack('postgres.js'));
const { startRedis } = await import(devStack('redis-server.js'));

const started = [];
const stop = async () => {
  for (const s of started.splice(0).reverse()) await s.stop().catch(() => undefined);
};
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void stop().finally(() => process.exit(0));
  });
}

try {
  const pg = await startPostgres({ dir: join(dir, 'postgres'), database: 'squall_smoke' });
  started.push(pg);
  const redis = await startRedis({ dir: join(dir, 'redis') });
  started.push(redis);
  writeFileSync(out, JSON.stringify({ databaseUrl: pg.url, redisUrl: redis.url }));
} catch (err) {
  process.stderr.write(`smoke stack: ${err.stack ?? err}\n`);
  await stop();
  process.exit(1);
}
