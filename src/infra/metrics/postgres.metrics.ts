import { Injectable, Logger } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { InjectMetrics } from './metrics.js';

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, release: () => void) => void;

/** At most one pool-exhaustion warning per this many ms; the lines between are counted in the next. */
export const EXHAUSTION_LOG_EVERY_MS = 10_000;

/** pg-pool's error when no connection came free within connectionTimeoutMillis. */
const CONNECT_TIMEOUT = /timeout exceeded when trying to connect/i;

/**
 * The Postgres pool as an operator sees it: connections opened (after a
 * restart or failover, a burst of them is the reconnect), connections lost
 * while idle, connection attempts that failed, the pool's state, and how long
 * requests wait for a connection. A request that waited in vain (the pool is
 * exhausted: every connection busy for connectionTimeoutMillis) is answered
 * 503 "database unavailable"; that is logged here, at warn and at most once
 * per {@link EXHAUSTION_LOG_EVERY_MS}, with the pool's state, since the 503
 * itself says nothing of the cause.
 */
@Injectable()
export class PostgresMetrics {
  private readonly logger = new Logger('PostgresPool');
  private lastExhaustionLog = -Infinity;
  private unloggedExhaustions = 0;

  constructor(dataSource: DataSource, @InjectMetrics() registry: Registry) {
    const pool = (dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool) return;
    const waitTime = new Histogram({
      name: 'squall_postgres_pool_wait_seconds',
      help: 'Time a request waited for a Postgres pool connection (failed waits included)',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    waitTime.zero({ outcome: 'acquired' });
    waitTime.zero({ outcome: 'failed' });
    const opened = new Counter({
      name: 'squall_postgres_connections_opened_total',
      help: 'Postgres connections the pool opened (reconnects included)',
      registers: [registry],
    });
    const errors = new Counter({
      name: 'squall_postgres_errors_total',
      help: 'Postgres connection failures: connect (an attempt failed), lost (an idle connection broke)',
      labelNames: ['kind'],
      registers: [registry],
    });
    errors.inc({ kind: 'connect' }, 0);
    errors.inc({ kind: 'lost' }, 0);
    new Gauge({
      name: 'squall_postgres_pool_connections',
      help: 'Postgres pool: total and idle connections, and requests waiting for one',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
    const max = (pool as unknown as { options?: { max?: number } }).options?.max;
    const failed = (err: unknown, started: number) => {
      errors.inc({ kind: 'connect' });
      waitTime.observe({ outcome: 'failed' }, (performance.now() - started) / 1000);
      if (CONNECT_TIMEOUT.test((err as Error)?.message ?? '')) this.exhausted(pool, max, started);
    };
    pool.on('connect', () => opened.inc());
    pool.on('error', () => errors.inc({ kind: 'lost' }));
    // pg's Pool has no event for a failed connection attempt (Postgres down,
    // refused, timed out): count the failures of connect() itself, in both of
    // its forms (TypeORM uses the callback).
    const connect = pool.connect.bind(pool) as (cb?: ConnectCallback) => Promise<PoolClient> | void;
    (pool as unknown as { connect: typeof connect }).connect = (cb?: ConnectCallback) => {
      const started = performance.now();
      if (!cb) {
        return (connect() as Promise<PoolClient>).then(
          (client) => (
            waitTime.observe({ outcome: 'acquired' }, (performance.now() - started) / 1000),
            client
          ),
          (err: unknown) => {
            failed(err, started);
            throw err;
          },
        );
      }
      return connect((err, client, release) => {
        if (err) failed(err, started);
        else waitTime.observe({ outcome: 'acquired' }, (performance.now() - started) / 1000);
        cb(err, client, release);
      });
    };
  }

  /** Warns (rate-limited) that a request found no free connection in time, with the pool's state. */
  private exhausted(pool: Pool, max: number | undefined, started: number): void {
    const now = performance.now();
    if (now - this.lastExhaustionLog < EXHAUSTION_LOG_EVERY_MS) {
      this.unloggedExhaustions++;
      return;
    }
    this.lastExhaustionLog = now;
    const alsoSince = this.unloggedExhaustions;
    this.unloggedExhaustions = 0;
    this.logger.warn({
      msg: 'Postgres pool exhausted: a request waited for a connection in vain and was answered 503 database unavailable',
      waitedMs: Math.round(now - started),
      pool: { max, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount },
      // Exhaustions since the previous line that were not logged (rate limit).
      unlogged: alsoSince,
    });
  }
}
