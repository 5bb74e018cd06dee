import { Injectable } from '@nestjs/common';
import { AppError } from '../infra/errors/app-error.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { RateLimiter } from '../lib/rate-limiter.js';
import { LimitsMetrics } from './limits.metrics.js';
import { RedisLimitGate } from './redis-limit-gate.js';
import { RedisTokenBucket } from './redis-token-bucket.js';

export type RateLimitName = 'publish' | 'job_submit';

interface Bucket {
  cluster: RedisTokenBucket;
  /** The same limit held by this instance alone, while Redis cannot answer. */
  local: RateLimiter;
  what: string;
}

/**
 * Rates per client key (see clientKeyOf) that hold across every instance:
 * the buckets live in Redis, so N instances do not make N times the limit.
 * `publish`: RATE_LIMIT_PUBLISH_PER_SEC with bursts of RATE_LIMIT_PUBLISH_BURST,
 * over REST and WebSocket alike (one budget per client). `job_submit`:
 * RATE_LIMIT_JOBS_PER_MIN, in bursts of as many. A rate of 0 turns a limit off.
 */
@Injectable()
export class RateLimits {
  private readonly buckets: Partial<Record<RateLimitName, Bucket>> = {};

  constructor(
    private readonly gate: RedisLimitGate,
    private readonly metrics: LimitsMetrics,
    @InjectConfig() config: AppConfig,
  ) {
    const publish = config.RATE_LIMIT_PUBLISH_PER_SEC;
    if (publish > 0) {
      this.buckets.publish = this.bucket(publish, config.RATE_LIMIT_PUBLISH_BURST ?? publish * 2, 'publish');
    }
    const jobs = config.RATE_LIMIT_JOBS_PER_MIN;
    if (jobs > 0) this.buckets.job_submit = this.bucket(jobs / 60, jobs, 'job submit');
  }

  /** Whether `name` is limited at all (a rate of 0 turns it off). */
  enabled(name: RateLimitName): boolean {
    return this.buckets[name] !== undefined;
  }

  /** Throws `rate_limited` (429 with Retry-After; WS `retryAfterMs`) when `clientKey` is over `name`'s rate. */
  async take(name: RateLimitName, clientKey: string): Promise<void> {
    const bucket = this.buckets[name];
    if (!bucket) return;
    const key = this.gate.redis.key('limit', name, clientKey);
    const waitMs =
      (await this.gate.try(name, () => bucket.cluster.take(key))) ?? bucket.local.take(clientKey) * 1000;
    if (waitMs <= 0) return;
    this.metrics.refusal(name);
    const seconds = Math.ceil(waitMs / 1000);
    throw new AppError(
      'rate_limited',
      `${bucket.what} rate limit exceeded; retry in ${seconds} s`,
      seconds,
      waitMs,
    );
  }

  private bucket(ratePerSec: number, burst: number, what: string): Bucket {
    return {
      cluster: new RedisTokenBucket(this.gate.redis.command, ratePerSec, burst),
      local: new RateLimiter(ratePerSec, burst),
      what,
    };
  }
}
