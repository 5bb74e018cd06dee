import { Histogram, type Registry } from 'prom-client';

/**
 * `squall_delivery_lag_seconds`: from a message's commit (`publishedAt`, the
 * Postgres clock) to the moment this instance's hub hands it to its local
 * subscribers. Live fan-out only: a subscriber replaying history is reading
 * old messages on purpose, which says nothing about the pipeline. Includes
 * the Redis hop and any gap fill from Postgres; across hosts it also
 * includes the skew between their clocks (negative values count as 0).
 */
export function deliveryLagHistogram(registry: Registry): (publishedAt: string) => void {
  const histogram = new Histogram({
    name: 'squall_delivery_lag_seconds',
    help: 'Seconds from commit (publishedAt) to the hand-off to local subscribers, per message',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (publishedAt) => {
    const committed = Date.parse(publishedAt);
    if (Number.isFinite(committed)) histogram.observe(Math.max(0, Date.now() - committed) / 1000);
  };
}
