import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisService } from '../redis/redis.service.js';
import { withTimeout } from '../../lib/timeout.js';

@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly redis: RedisService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async check(key: string, timeoutMs = 1000) {
    const indicator = this.indicators.check(key);
    // While disconnected ioredis queues commands instead of failing them, so
    // ask the connection state first and bound the PING.
    if (!this.redis.isReady()) return indicator.down({ message: `connection ${this.redis.command.status}` });
    try {
      await withTimeout(
        this.redis.command.ping(),
        timeoutMs,
        () => new Error(`no PONG within ${timeoutMs} ms`),
      );
      return indicator.up();
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    }
  }
}
