import { Module } from '@nestjs/common';
import { PostgresMetrics } from './postgres.metrics.js';

/** Metrics about shared infrastructure that no feature module owns (the Postgres pool). */
@Module({ providers: [PostgresMetrics] })
export class MetricsModule {}
