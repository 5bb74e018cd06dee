/**
 * `npm start`: the service on its own dev stack. With DATABASE_URL and
 * REDIS_URL set it uses them and starts nothing else; with either unset it
 * starts an embedded Postgres (data under .squall/, kept across restarts) and
 * a private redis-server, and stops them when the service stops.
 */
import { runMain } from '../bootstrap.js';
import type { PostgresHandle } from './postgres.js';
import type { RedisHandle } from './redis-server.js';

const say = (line: string) => process.stdout.write(`[squall dev] ${line}\n`);

async function start(): Promise<void> {
  const env = { ...process.env };
  let pg: PostgresHandle | undefined;
  let redis: RedisHandle | undefined;
  const stopStack = async () => {
    await redis?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
  };
  try {
    if (!env.DATABASE_URL) {
      const { startPostgres } = await import('./postgres.js');
      say('DATABASE_URL not set: starting embedded Postgres (data in .squall/postgres)');
      pg = await startPostgres({
        dir: '.squall/postgres',
        port: Number(env.SQUALL_DEV_PG_PORT) || undefined,
        log: say,
      });
      env.DATABASE_URL = pg.url;
    }
    if (!env.REDIS_URL) {
      const { startRedis } = await import('./redis-server.js');
      say('REDIS_URL not set: starting redis-server');
      redis = await startRedis({ dir: '.squall', log: say });
      env.REDIS_URL = redis.url;
    }
  } catch (err) {
    process.stderr.write(`squall: ${(err as Error).message}\n`);
    await stopStack();
    process.exit(1);
  }
  say(`DATABASE_URL=${env.DATABASE_URL!.replace(/:[^:@/]*@/, ':***@')}`);
  say(`REDIS_URL=${env.REDIS_URL}`);
  say(`serving on http://localhost:${env.PORT || 3000}`);
  await runMain(env, { afterClose: stopStack });
}

void start();
