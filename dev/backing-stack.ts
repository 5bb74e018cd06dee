import type { PostgresHandle } from './postgres.js';
import type { RedisHandle } from './redis-server.js';

/**
 * Postgres and Redis for the dev commands (`npm start`, `npm run cluster`):
 * whichever the environment has no URL for is started (an embedded Postgres
 * with its data kept in .squall/postgres, a private redis-server) and its URL
 * is set in `env`. The handles are promises taken as the start begins, so a
 * stop asked for while a server is still starting waits for it and stops it too.
 */
export class BackingStack {
  private pg: Promise<PostgresHandle | undefined> = Promise.resolve(undefined);
  private redis: Promise<RedisHandle | undefined> = Promise.resolve(undefined);

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly say: (line: string) => void,
  ) {}

  /** Starts what is missing; stops early when `interrupted()` turns true (a signal: stop() follows). */
  async start(interrupted: () => boolean): Promise<void> {
    const { env, say } = this;
    if (!env.DATABASE_URL) {
      const { startPostgres } = await import('./postgres.js');
      say('DATABASE_URL not set: starting embedded Postgres (data in .squall/postgres)');
      this.pg = startPostgres({
        dir: '.squall/postgres',
        port: Number(env.SQUALL_DEV_PG_PORT) || undefined,
        log: say,
      });
      env.DATABASE_URL = (await this.pg)!.url;
    }
    if (interrupted()) return;
    if (!env.REDIS_URL && !env.REDIS_CLUSTER_NODES) {
      const { startRedis } = await import('./redis-server.js');
      say('REDIS_URL not set: starting redis-server');
      this.redis = startRedis({ dir: '.squall', log: say });
      env.REDIS_URL = (await this.redis)!.url;
    }
  }

  /** The URLs in use, for the start-up banner (the Postgres password masked). */
  describe(): string {
    const { env } = this;
    const db = `DATABASE_URL=${env.DATABASE_URL?.replace(/:[^:@/]*@/, ':***@')}`;
    return `${db} ${env.REDIS_URL ? `REDIS_URL=${env.REDIS_URL}` : `REDIS_CLUSTER_NODES=${env.REDIS_CLUSTER_NODES}`}`;
  }

  /** Stops what start() started, Redis first; says which. Never throws. */
  async stop(): Promise<void> {
    const [r, p] = await Promise.all([this.redis.catch(() => undefined), this.pg.catch(() => undefined)]);
    await r?.stop().catch(() => undefined);
    await p?.stop().catch(() => undefined);
    const stopped = [r && 'redis-server', p && 'Postgres'].filter(Boolean).join(' and ');
    if (stopped) this.say(`${stopped} stopped`);
  }
}
