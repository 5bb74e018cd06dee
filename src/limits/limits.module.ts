import { Global, Module } from '@nestjs/common';
import { LimitsMetrics } from './limits.metrics.js';
import { RateLimits } from './rate-limits.js';
import { RedisLimitGate } from './redis-limit-gate.js';
import { WsConnectionLimits } from './ws-connection-limits.js';

/** Rate and connection limits that hold across instances (Redis), for every transport and feature. */
@Global()
@Module({
  providers: [LimitsMetrics, RedisLimitGate, RateLimits, WsConnectionLimits],
  exports: [RateLimits, WsConnectionLimits],
})
export class LimitsModule {}
