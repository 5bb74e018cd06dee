import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Redis, RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import { type AppConfig, InjectConfig } from '../config/app-config.js';
import { backoffMs } from '../../lib/backoff.js';
import { InjectMetrics } from '../metrics/metrics.js';
import { RedisMetrics } from '../metrics/redis.metrics.js';

/**
 * Owns every Redis connection of the process: one shared command connection,
 * one subscriber connection (a connection in subscribe mode can do nothing
 * else), and whatever dedicated ones others ask for (BullMQ). All are closed on
 * shutdown, after the modules that use them have stopped.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  private readonly clients = new Set<Redis>();
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly prefix: string;
  private readonly metrics: RedisMetrics;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
  ) {
    this.metrics = new RedisMetrics(registry);
    this.prefix = config.REDIS_KEY_PREFIX;
    // Auto-pipelining writes the commands issued in one tick (a burst of
    // PUBLISHes after a group commit) to the socket in one write.
    this.command = this.create('command', { enableAutoPipelining: true });
    this.subscriber = this.create('subscriber');
  }

  /** A new connection from REDIS_URL, closed with the others at shutdown. */
  create(name: string, overrides: RedisOptions = {}): Redis {
    const client = new Redis(this.config.REDIS_URL, {
      connectionName: `squall:${name}`,
      // Keep reconnecting forever, at most every 2 s; Redis restarts are routine.
      retryStrategy: (times) => backoffMs(times, 100, 2000),
      ...overrides,
    });
    let wasReady = false;
    client.on('ready', () => {
      if (wasReady) this.logger.log(`redis ${name} connection restored`);
      wasReady = true;
    });
    client.on('error', (err: Error) => {
      // ioredis reconnects by itself; one line per failure is enough.
      this.logger.warn(`redis ${name}: ${err.message}`);
    });
    this.metrics.watch(name, client);
    this.clients.add(client);
    return client;
  }

  /** The key space every Squall key lives under. */
  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  isReady(): boolean {
    return this.command.status === 'ready';
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [...this.clients].map(async (client) => {
        try {
          if (client.status === 'ready') await client.quit();
          else client.disconnect();
        } catch {
          client.disconnect();
        }
      }),
    );
    this.clients.clear();
  }
}
