import { Controller, Get, Header, Res, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import { Public } from '../http/public.js';
import { Lifecycle } from '../lifecycle/lifecycle.js';
import { MetricsTokenGuard } from '../metrics/metrics-token.guard.js';
import { InjectMetrics } from '../metrics/metrics.js';
import { RedisHealthIndicator } from './redis.health.js';

const DEPENDENCIES = {
  type: 'object',
  additionalProperties: { type: 'object', properties: { status: { type: 'string', enum: ['up', 'down'] } } },
  example: { postgres: { status: 'up' }, redis: { status: 'up' } },
};
const READY_SCHEMA = {
  type: 'object',
  properties: { status: { type: 'string', example: 'ok' }, info: DEPENDENCIES, details: DEPENDENCIES },
};
// The common error shape, with Terminus's per-dependency report alongside.
const NOT_READY_SCHEMA = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer', example: 503 },
    error: { type: 'string', example: 'Service Unavailable' },
    message: { type: 'string', example: 'not ready' },
    status: { type: 'string', example: 'error' },
    details: DEPENDENCIES,
  },
};

// Probes and scrapers hold no user token: /metrics has its own (METRICS_TOKEN).
@ApiTags('operations')
@Public()
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
  @ApiOperation({ summary: 'Liveness' })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } } } })
  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  /** 200 when Postgres and Redis both answer, 503 with per-dependency detail otherwise (and while shutting down). */
  @ApiOperation({ summary: 'Readiness: Postgres and Redis answer within 1.5 s' })
  @ApiOkResponse({ schema: READY_SCHEMA })
  @ApiServiceUnavailableResponse({
    description: 'a dependency is down, or the instance is shutting down',
    schema: NOT_READY_SCHEMA,
  })
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

  @ApiOperation({ summary: 'Prometheus metrics of this instance (see docs/operations.md)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    content: {
      'text/plain': {
        schema: { type: 'string' },
        example: 'squall_hub_subscribers{role="api,gateway,worker"} 3\n',
      },
    },
  })
  @Get('metrics')
  @UseGuards(MetricsTokenGuard)
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() res: Response) {
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }
}
