import { hostname } from 'node:os';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { ChannelsService, type NamespacePublisher } from '../channels/channels.service.js';
import { InjectConfig } from '../infra/config/app-config.js';
import type { AppConfig } from '../infra/config/config.schema.js';
import { InjectMetrics } from '../infra/metrics/metrics.js';
import {
  type InstanceStats,
  STATS_CHANNEL,
  SYS_NAMESPACE,
  byLabel,
  queueDepth,
  readValues,
  total,
} from './stats.js';

/**
 * Every STATS_INTERVAL_MS (0: never), publishes this instance's live counts
 * to `sys:stats`, read from the metrics it already keeps for /metrics. It
 * runs in every role, so the dashboard sees gateways and workers too. Cheap
 * by design: one small message per interval, a handful of gauges read, and
 * the queue-depth read is bounded (1 s) by the gauge itself. A failed publish
 * (Postgres down) is logged at debug and the next tick tries again: stats are
 * a view, never worth an error.
 */
@Injectable()
export class StatsPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StatsPublisher.name);
  private readonly instance = `${hostname()}:${process.pid}`;
  private timer?: NodeJS.Timeout;
  private running = false;
  private last?: { at: number; published: number; delivered: number };
  /** The `sys` namespace is this class's alone: no client can forge an instance's stats. */
  private readonly publisher: NamespacePublisher;

  constructor(
    @InjectMetrics() private readonly registry: Registry,
    @InjectConfig() private readonly config: AppConfig,
    channels: ChannelsService,
  ) {
    this.publisher = channels.claimNamespace(SYS_NAMESPACE);
  }

  onApplicationBootstrap(): void {
    const every = this.config.STATS_INTERVAL_MS;
    if (every === 0) return;
    this.timer = setInterval(() => void this.tick(), every);
    // Stats never keep the process alive on their own.
    this.timer.unref();
    void this.tick();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Builds the message from the registry; rates are over the time since the previous one. */
  async collect(at = Date.now()): Promise<InstanceStats> {
    const [connections, subscribers, published, delivered, depth] = await Promise.all([
      readValues(this.registry, 'squall_connections'),
      readValues(this.registry, 'squall_hub_subscribers'),
      readValues(this.registry, 'squall_messages_published_total'),
      readValues(this.registry, 'squall_hub_deliveries_total'),
      readValues(this.registry, 'squall_jobs_queue_depth'),
    ]);
    const now = { at, published: total(published), delivered: total(delivered) };
    const prev = this.last;
    this.last = now;
    const seconds = prev ? Math.max(0.001, (now.at - prev.at) / 1000) : 0;
    const rate = (a: number, b: number) => (seconds ? Math.round(((a - b) / seconds) * 10) / 10 : 0);
    const byTransport = byLabel(connections, 'transport');
    return {
      instance: this.instance,
      roles: this.config.ROLE,
      at: new Date(now.at).toISOString(),
      intervalMs: this.config.STATS_INTERVAL_MS,
      connections: byTransport,
      subscriptions: total(subscribers),
      messagesInPerSec: prev ? rate(now.published, prev.published) : 0,
      messagesOutPerSec: prev ? rate(now.delivered, prev.delivered) : 0,
      pendingLongPolls: byTransport.long_poll ?? 0,
      queueDepth: queueDepth(depth),
    };
  }

  private async tick(): Promise<void> {
    // A slow Postgres must not pile up ticks.
    if (this.running) return;
    this.running = true;
    try {
      await this.publisher.publish(STATS_CHANNEL, await this.collect());
    } catch (err) {
      this.logger.debug(`stats publish failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
