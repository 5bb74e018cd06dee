import { Counter, Gauge, Registry } from 'prom-client';
import type { ChannelsService } from '../channels/channels.service.js';
import type { AppConfig } from '../infra/config/config.schema.js';
import { ConnectionsMetric } from '../infra/metrics/connections.metric.js';
import { StatsPublisher } from './stats.publisher.js';

/** collect() never publishes: a channel core that only hands out the `sys` claim. */
const noChannels = { claimNamespace: () => null } as unknown as ChannelsService;

/** The stats message is read from the same metrics /metrics shows: real prom-client metrics here. */
describe('StatsPublisher.collect', () => {
  it('reads connections, subscriptions, message rates and pending queue depth from the registry', async () => {
    const registry = new Registry();
    const connections = ConnectionsMetric.of(registry);
    connections.track('ws');
    connections.track('ws');
    connections.track('long_poll');
    const published = new Counter({
      name: 'squall_messages_published_total',
      help: 'h',
      registers: [registry],
    });
    const delivered = new Counter({ name: 'squall_hub_deliveries_total', help: 'h', registers: [registry] });
    new Gauge({ name: 'squall_hub_subscribers', help: 'h', registers: [registry] }).set(4);
    const depth = new Gauge({
      name: 'squall_jobs_queue_depth',
      help: 'h',
      labelNames: ['queue', 'state'],
      registers: [registry],
    });
    depth.set({ queue: 'jobs.a', state: 'waiting' }, 2);
    depth.set({ queue: 'jobs.a', state: 'delayed' }, 1);
    depth.set({ queue: 'jobs.a', state: 'completed' }, 9); // finished: not depth
    depth.set({ queue: 'jobs.b', state: 'active' }, 1);
    published.inc(3);

    const config = { STATS_INTERVAL_MS: 2000, ROLE: ['api'] } as AppConfig;
    const stats = new StatsPublisher(registry, config, noChannels);
    const first = await stats.collect(1000);
    expect(first).toMatchObject({
      roles: ['api'],
      intervalMs: 2000,
      connections: { ws: 2, sse: 0, long_poll: 1 },
      pendingLongPolls: 1,
      subscriptions: 4,
      // No previous reading yet: no rate.
      messagesInPerSec: 0,
      messagesOutPerSec: 0,
      queueDepth: { 'jobs.a': 3, 'jobs.b': 1 },
    });

    published.inc(10);
    delivered.inc(30);
    const second = await stats.collect(3000);
    expect(second.messagesInPerSec).toBe(5);
    expect(second.messagesOutPerSec).toBe(15);
  });

  it('reads absent metrics (a role without a hub or queues) as empty', async () => {
    const config = { STATS_INTERVAL_MS: 2000, ROLE: ['worker'] } as AppConfig;
    const stats = await new StatsPublisher(new Registry(), config, noChannels).collect();
    expect(stats).toMatchObject({ connections: {}, subscriptions: 0, pendingLongPolls: 0, queueDepth: {} });
  });
});
