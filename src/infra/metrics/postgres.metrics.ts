import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { InjectMetrics } from './metrics.js';

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, release: () => void) => void;

/**
 * The Postgres pool as an operator sees it: connections opened (after a
 * restart or failover, a burst of them is the reconnect), connections lost
 * while idle, connection attempts that failed, and the pool's state.
 */
@Injectable()
export class PostgresMetrics {
  constructor(dataSource: DataSource, @InjectMetrics() registry: Registry) {
    const pool = (dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool) return;
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
    pool.on('connect', () => opened.inc());
    pool.on('error', () => errors.inc({ kind: 'lost' }));
    // pg's Pool has no event for a failed connection attempt (Postgres down,
    // refused, timed out): count the failures of connect() itself, in both of
    // its forms (TypeORM uses the callback).
    const connect = pool.connect.bind(pool) as (cb?: ConnectCallback) => Promise<PoolClient> | void;
    (pool as unknown as { connect: typeof connect }).connect = (cb?: ConnectCallback) => {
      if (!cb) {
        return (connect() as Promise<PoolClient>).catch((err: unknown) => {
          errors.inc({ kind: 'connect' });
          throw err;
        });
      }
      return connect((err, client, release) => {
        if (err) errors.inc({ kind: 'connect' });
        cb(err, client, release);
      });
    };
  }
}
