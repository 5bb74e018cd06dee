import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ChannelsModule } from './channels/channels.module.js';
import { ChannelsHttpModule } from './channels/http/channels-http.module.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { AppValidationPipe } from './common/validation/validation.pipe.js';
import { ConfigModule } from './config/config.module.js';
import { type AppConfig, hasRole } from './config/config.schema.js';
import { DatabaseModule } from './database/database.module.js';
import { DemoModule } from './demo/demo.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NamespacesHttpModule } from './namespaces/http/namespaces-http.module.js';
import { RedisModule } from './redis/redis.module.js';

/**
 * The module tree is chosen by ROLE: shared infrastructure always, then the
 * transports and the job worker only in the roles that run them.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const roleModules: NonNullable<DynamicModule['imports']> = [
      ChannelsModule,
      JobsModule.forRoot(config),
      DemoModule,
    ];
    if (hasRole(config, 'api')) roleModules.push(ChannelsHttpModule, NamespacesHttpModule);
    if (hasRole(config, 'gateway')) roleModules.push(GatewayModule);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(config),
        DatabaseModule.forRoot(config),
        RedisModule,
        HealthModule.forRoot(config.ROLE),
        MetricsModule,
        ...roleModules,
      ],
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        { provide: APP_PIPE, useClass: AppValidationPipe },
      ],
    };
  }
}
