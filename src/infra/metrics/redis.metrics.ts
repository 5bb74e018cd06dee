import { Counter, Gauge, type Registry } from 'prom-client';
import type { RedisClient } from '../redis/redis.service.js';

/**
 * Errors, restored connections and the state of each of the process's Redis
 * connections, labelled by the connection's role (command, subscriber,
 * BullMQ's). ioredis reconnects by itself; these say how often it had to.
 */
export class RedisMetrics {
  private readonly errors: Counter<'connection'>;
  private readonly reconnects: Counter<'connection'>;
  private readonly clients = new Map<string, RedisClient[]>();

  constructor(registry: Registry) {
    this.errors = new Counter({
      name: 'squall_redis_errors_total',
      help: 'Errors reported by Redis connections (refused, reset, timed out), by connection',
      labelNames: ['connection'],
      registers: [registry],
    });
    this.reconnects = new Counter({
      name: 'squall_redis_reconnects_total',
      help: 'Redis connections restored after being lost, by connection',
      labelNames: ['connection'],
      registers: [registry],
    });
    const clients = this.clients;
    new Gauge({
      name: 'squall_redis_connected',
      help: 'Redis connections that are ready, by connection (0 while reconnecting)',
      labelNames: ['connection'],
      registers: [registry],
      collect() {
        for (const [connection, list] of clients) {
          this.set({ connection }, list.filter((c) => c.status === 'ready').length);
        }
      },
    });
  }

  watch(connection: string, client: RedisClient): void {
    this.clients.set(connection, [...(this.clients.get(connection) ?? []), client]);
    this.errors.inc({ connection }, 0);
    this.reconnects.inc({ connection }, 0);
    let wasReady = false;
    client.on('ready', () => {
      if (wasReady) this.reconnects.inc({ connection });
      wasReady = true;
    });
    client.on('error', () => this.errors.inc({ connection }));
    client.on('end', () => {
      const rest = (this.clients.get(connection) ?? []).filter((c) => c !== client);
      if (rest.length) this.clients.set(connection, rest);
      else this.clients.delete(connection);
    });
  }
}
