import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisService } from '../redis/redis.service.js';

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
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.command.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return indicator.up();
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
