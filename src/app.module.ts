import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthModule } from './auth/auth.module.js';
import { ChannelsModule } from './channels/channels.module.js';
import { DashboardStatsModule } from './dashboard/stats.module.js';
import { DemoModule } from './demo/demo.module.js';
import { ConfigModule } from './infra/config/config.module.js';
import { type AppConfig, hasRole } from './infra/config/config.schema.js';
import { DatabaseModule } from './infra/database/database.module.js';
import { HealthModule } from './infra/health/health.module.js';
import { HttpExceptionFilter } from './infra/http/http-exception.filter.js';
import { AppValidationPipe } from './infra/http/validation/validation.pipe.js';
import { LoggingModule } from './infra/logging/logging.module.js';
import { MetricsModule } from './infra/metrics/metrics.module.js';
import { RedisModule } from './infra/redis/redis.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { LimitsModule } from './limits/limits.module.js';
import { NamespacesModule } from './namespaces/namespaces.module.js';
import { ApiRoleModule } from './roles/api.module.js';
import { GatewayRoleModule } from './roles/gateway.module.js';
import { WorkerRoleModule } from './roles/worker.module.js';

/**
 * Features every role loads: their cores (services, entities), never their
 * transports. A job type must load in every role (the API validates submits
 * against the registry), so job modules go here too.
 */
export const features = [
  // A fork adds its feature modules here (see docs/extending.md).
  ChannelsModule,
  JobsModule,
  NamespacesModule,
  DemoModule, // demo job types: delete this line, its import and src/demo/ (nothing else refers to them)
];

/**
 * Shared infrastructure always, the features' cores always, then each role
 * ROLE asks for (src/roles/: what `api`, `gateway` and `worker` serve).
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, extra: Type[] = []): DynamicModule {
    const roles: NonNullable<DynamicModule['imports']> = [];
    if (hasRole(config, 'api')) roles.push(ApiRoleModule.forRoot(config));
    if (hasRole(config, 'gateway')) roles.push(GatewayRoleModule);
    if (hasRole(config, 'worker')) roles.push(WorkerRoleModule);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(config),
        DatabaseModule.forRoot(config),
        RedisModule,
        HealthModule.forRoot(config.ROLE),
        MetricsModule,
        AuthModule,
        LimitsModule,
        ...features,
        DashboardStatsModule, // every instance publishes its counts to sys:stats
        ...extra,
        ...roles,
      ],
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        { provide: APP_PIPE, useClass: AppValidationPipe },
      ],
    };
  }
}
