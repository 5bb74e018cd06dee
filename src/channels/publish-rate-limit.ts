import { Injectable } from '@nestjs/common';
import { AppError } from '../infra/errors/app-error.js';
import { RateLimiter } from '../lib/rate-limiter.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';

/** RATE_LIMIT_PUBLISH_PER_SEC per client (REST: per address; WebSocket: per connection). 0 = off. */
@Injectable()
export class PublishRateLimit {
  private readonly limiter: RateLimiter;

  constructor(@InjectConfig() config: AppConfig) {
    const rate = config.RATE_LIMIT_PUBLISH_PER_SEC;
    this.limiter = new RateLimiter(rate, Math.max(1, rate * 2));
  }

  /** Throws `rate_limited` (429 with Retry-After) when `key` is over its rate. */
  check(key: string): void {
    const wait = this.limiter.take(key);
    if (wait > 0) throw new AppError('rate_limited', `publish rate limit exceeded; retry in ${wait} s`, wait);
  }

  release(key: string): void {
    this.limiter.forget(key);
  }
}
