import { Inject, Injectable } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../infra/metrics/metrics.js';

/** Every limit by the name its metrics and logs carry. */
export type LimitName = 'publish' | 'job_submit' | 'ws_connections_per_key' | 'ws_connections_per_ip';
export const LIMIT_NAMES: LimitName[] = [
  'publish',
  'job_submit',
  'ws_connections_per_key',
  'ws_connections_per_ip',
];

/**
 * `squall_rate_limited_total{limit}`: requests and upgrades refused by a
 * limit. `squall_rate_limit_fallbacks_total{limit}`: decisions this instance
 * made alone because Redis did not answer in time (the limit then holds per
 * instance); non-zero means the cluster-wide limits are degraded.
 */
@Injectable()
export class LimitsMetrics {
  private readonly refused: Counter<'limit'>;
  private readonly fallbacks: Counter<'limit'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.refused = new Counter({
      name: 'squall_rate_limited_total',
      help: 'Requests, frames and WebSocket upgrades refused by a rate or connection limit, by limit',
      labelNames: ['limit'],
      registers: [registry],
    });
    this.fallbacks = new Counter({
      name: 'squall_rate_limit_fallbacks_total',
      help: 'Limit decisions made by this instance alone (Redis unavailable or slow), by limit',
      labelNames: ['limit'],
      registers: [registry],
    });
    // Series exist at 0 before the first refusal, so rate() and alerts see them.
    for (const limit of LIMIT_NAMES) {
      this.refused.inc({ limit }, 0);
      this.fallbacks.inc({ limit }, 0);
    }
  }

  refusal(limit: LimitName): void {
    this.refused.inc({ limit });
  }

  fallback(limit: LimitName): void {
    this.fallbacks.inc({ limit });
  }
}
