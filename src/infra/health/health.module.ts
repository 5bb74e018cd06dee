import { DynamicModule, Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { Lifecycle } from '../lifecycle/lifecycle.js';
import { METRICS_REGISTRY, createRegistry } from '../metrics/metrics.js';
import { RedisHealthIndicator } from './redis.health.js';

/** Liveness, readiness and /metrics: served by every role, so a worker is observable too. */
@Global()
@Module({})
export class HealthModule {
  static forRoot(roles: string[]): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        Lifecycle,
        RedisHealthIndicator,
        { provide: METRICS_REGISTRY, useFactory: () => createRegistry(roles.join(',')) },
      ],
      exports: [METRICS_REGISTRY, Lifecycle],
    };
  }
}
