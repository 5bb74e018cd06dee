import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import { InjectMetrics } from '../../infra/metrics/metrics.js';
import { deliveryLagHistogram } from '../../infra/metrics/delivery-lag.metric.js';
import { BROKER, type Broker } from '../broker/broker.js';
import { MessageStore } from '../message.store.js';
import { Hub } from './hub.js';

/** The instance's {@link Hub} as a Nest provider, with its metrics. */
@Injectable()
export class HubService extends Hub implements OnModuleInit, OnApplicationShutdown {
  constructor(
    store: MessageStore,
    @Inject(BROKER) broker: Broker,
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
  ) {
    const gaps = new Counter({
      name: 'squall_hub_gap_fills_total',
      help: 'Times the hub read Postgres to fill a gap or reorder the broker stream',
      registers: [registry],
    });
    const skipped = new Counter({
      name: 'squall_hub_skipped_seqs_total',
      help: 'Seqs the hub skipped because retention had removed them',
      registers: [registry],
    });
    const delivered = new Counter({
      name: 'squall_hub_deliveries_total',
      help: 'Messages handed to local subscribers (one per subscriber)',
      registers: [registry],
    });
    const lag = deliveryLagHistogram(registry);
    super(
      store,
      broker,
      {
        onGap: () => gaps.inc(),
        onSkip: (_c, from, to) => skipped.inc(to - from + 1),
        onDeliver: (n, envelope) => {
          delivered.inc(n);
          if (n > 0) lag(envelope.publishedAt);
        },
      },
      {
        lingerMs: config.HUB_LINGER_MS,
        recentMaxMessages: config.HUB_RECENT_MAX_MESSAGES,
        recentMaxBytes: config.HUB_RECENT_MAX_BYTES,
      },
    );
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const hub = this;
    new Gauge({
      name: 'squall_hub_channels',
      help: 'Channels this instance follows (each one subscribed in Redis), including ones kept for HUB_LINGER_MS after their last subscriber left',
      registers: [registry],
      collect() {
        this.set(hub.channelCount);
      },
    });
    new Gauge({
      name: 'squall_hub_subscribers',
      help: 'Local subscriptions across WebSocket, SSE and long polls',
      registers: [registry],
      collect() {
        this.set(hub.subscriberCount);
      },
    });
  }

  onModuleInit(): void {
    this.startSweeping(this.config.HUB_SWEEP_INTERVAL_MS);
  }

  onApplicationShutdown(): void {
    this.stop();
  }
}
