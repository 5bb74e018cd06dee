import { Controller, Get, Header, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import { Lifecycle } from '../lifecycle/lifecycle.js';
import { InjectMetrics } from '../metrics/metrics.js';
import { RedisHealthIndicator } from './redis.health.js';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    @InjectMetrics() private readonly registry: Registry,
    private readonly lifecycle: Lifecycle,
  ) {}

  /** The process is up and its event loop turns; says nothing about dependencies. */
  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  /** 200 when Postgres and Redis both answer, 503 with per-dependency detail otherwise (and while shutting down). */
  @Get('health/ready')
  @HealthCheck()
  ready() {
    if (this.lifecycle.shuttingDown) {
      throw new ServiceUnavailableException({ status: 'shutting_down', details: {} });
    }
    return this.health.check([
      () => this.db.pingCheck('postgres', { timeout: 1500 }),
      () => this.redis.check('redis', 1500),
    ]);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() res: Response) {
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }
}
