import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { APP_CONFIG } from './app-config.js';
import type { AppConfig } from './config.schema.js';

/**
 * Wraps @nestjs/config so that `ConfigService` works as forks expect, while the
 * rest of Squall injects the object that main.ts validated (config.schema.ts) through {@link APP_CONFIG}.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      imports: [
        NestConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [() => config],
        }),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG, NestConfigModule],
    };
  }
}
