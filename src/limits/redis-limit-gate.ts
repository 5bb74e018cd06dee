import { Injectable, Logger } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { RedisService } from '../infra/redis/redis.service.js';
import { withTimeout } from '../lib/timeout.js';
import { type LimitName, LimitsMetrics } from './limits.metrics.js';

/** After a failure, checks skip Redis this long, so an outage does not add the timeout to every request. */
const BACKOFF_MS = 2000;
const WARN_EVERY_MS = 10_000;

/**
 * The door every limit goes through to Redis. Limits fail open to their
 * per-instance fallback: a Redis outage must not stop publishes and submits
 * that Postgres would accept, yet a flood from one client is still held to
 * the limit on each instance. A down connection (not `ready`) falls back at
 * once; a stalled one after RATE_LIMIT_REDIS_TIMEOUT_MS; then Redis is left alone
 * for BACKOFF_MS. Each fallback is counted; the warning is logged at most
 * every 10 s.
 */
@Injectable()
export class RedisLimitGate {
  private readonly logger = new Logger('Limits');
  private skipUntil = 0;
  private lastWarn = 0;

  constructor(
    readonly redis: RedisService,
    private readonly metrics: LimitsMetrics,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** `op`'s answer, or undefined when Redis could not give it: the caller then decides alone. */
  async try<T>(limit: LimitName, op: () => Promise<T>): Promise<T | undefined> {
    if (Date.now() >= this.skipUntil && this.redis.isReady()) {
      try {
        return await withTimeout(
          op(),
          this.config.RATE_LIMIT_REDIS_TIMEOUT_MS,
          `limit check in Redis (${limit})`,
        );
      } catch (err) {
        this.skipUntil = Date.now() + BACKOFF_MS;
        this.warn(limit, (err as Error).message);
      }
    } else {
      this.warn(limit, 'redis not ready');
    }
    this.metrics.fallback(limit);
    return undefined;
  }

  private warn(limit: LimitName, reason: string): void {
    const now = Date.now();
    if (now - this.lastWarn < WARN_EVERY_MS) return;
    this.lastWarn = now;
    this.logger.warn({
      msg: 'limits hold per instance until Redis answers again (fail-open to the local limit)',
      limit,
      reason,
    });
  }
}
