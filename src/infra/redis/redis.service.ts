import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import { type AppConfig, InjectConfig } from '../config/app-config.js';
import { backoffMs } from '../../lib/backoff.js';
import { InjectMetrics } from '../metrics/metrics.js';
import { RedisMetrics } from '../metrics/redis.metrics.js';

/** A connection to the one Redis (REDIS_URL) or to a Redis Cluster (REDIS_CLUSTER_NODES). */
export type RedisClient = Redis | Cluster;

/** Options that ioredis's Cluster takes at its own level rather than per node. */
const CLUSTER_LEVEL = [
  'enableOfflineQueue',
  'enableAutoPipelining',
  'lazyConnect',
  'enableReadyCheck',
] as const;

/**
 * Owns every Redis connection of the process: one shared command connection,
 * one subscriber connection (a connection in subscribe mode can do nothing
 * else), and whatever dedicated ones others ask for (BullMQ). All are closed on
 * shutdown, after the modules that use them have stopped.
 *
 * With REDIS_CLUSTER_NODES each of them is an ioredis Cluster instead (one
 * socket per master behind it), with the same reconnect policy.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  private readonly clients = new Set<RedisClient>();
  readonly command: RedisClient;
  private subscriberClient?: RedisClient;
  readonly prefix: string;
  /** Seed nodes of the Redis Cluster, or undefined for one Redis. */
  readonly clusterNodes?: { host: string; port: number }[];
  private readonly metrics: RedisMetrics;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
  ) {
    this.metrics = new RedisMetrics(registry);
    this.prefix = config.REDIS_KEY_PREFIX;
    this.clusterNodes = config.REDIS_CLUSTER_NODES?.map(parseHostPort);
    // Auto-pipelining writes the commands issued in one tick (a burst of
    // PUBLISHes after a group commit) to the socket in one write.
    this.command = this.create('command', { enableAutoPipelining: true });
  }

  /** The classic pub/sub connection, opened on first use (a cluster's broker uses its own sharded one). */
  get subscriber(): RedisClient {
    this.subscriberClient ??= this.create('subscriber');
    return this.subscriberClient;
  }

  get isCluster(): boolean {
    return this.clusterNodes !== undefined;
  }

  /**
   * BullMQ's key prefix. On a cluster every key one BullMQ script touches
   * must hash to one slot, so the prefix is a hash tag (`{squall}`): all
   * queues live on one shard (BullMQ's documented setup).
   */
  get jobsPrefix(): string {
    return this.isCluster ? `{${this.prefix}}` : this.prefix;
  }

  /** A new connection (or Cluster client), closed with the others at shutdown. */
  create(
    name: string,
    overrides: RedisOptions & Pick<ClusterOptions, 'shardedSubscribers'> = {},
  ): RedisClient {
    const client = this.clusterNodes
      ? this.createCluster(name, overrides)
      : this.createSingle(name, overrides);
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

  private createSingle(name: string, overrides: RedisOptions): Redis {
    return new Redis(this.config.REDIS_URL!, {
      connectionName: `squall:${name}`,
      // Keep reconnecting forever, at most every 2 s; Redis restarts are routine.
      retryStrategy: (times) => backoffMs(times, 100, 2000),
      ...overrides,
    });
  }

  private createCluster(
    name: string,
    overrides: RedisOptions & Pick<ClusterOptions, 'shardedSubscribers'>,
  ): Cluster {
    const { shardedSubscribers, ...rest } = overrides;
    const clusterLevel: ClusterOptions = {};
    const nodeLevel: RedisOptions = { ...rest };
    for (const key of CLUSTER_LEVEL) {
      if (key in rest) {
        (clusterLevel as Record<string, unknown>)[key] = rest[key];
        delete (nodeLevel as Record<string, unknown>)[key];
      }
    }
    return new Cluster(this.clusterNodes!, {
      ...clusterLevel,
      shardedSubscribers,
      // Like the single Redis: reconnect forever, at most every 2 s.
      clusterRetryStrategy: (times) => backoffMs(times, 100, 2000),
      redisOptions: { connectionName: `squall:${name}`, ...nodeLevel },
    });
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

/** `host:port` or `[v6]:port` (validated by the config schema). */
function parseHostPort(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
}
