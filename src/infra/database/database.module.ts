import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.schema.js';
import { dataSourceOptions } from './data-source-options.js';
import { runMigrationsLocked } from './migrate.js';

@Module({})
export class DatabaseModule {
  static forRoot(config: AppConfig): DynamicModule {
    const logger = new Logger('Database');
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            ...dataSourceOptions(config),
            autoLoadEntities: true,
            retryAttempts: 10,
            retryDelay: 2000,
          }),
          dataSourceFactory: async (options) => {
            if (config.MIGRATIONS_RUN) {
              // Their own short-lived connections, without the app's statement timeout.
              const migrator = await new DataSource({
                ...dataSourceOptions({ ...config, DATABASE_POOL_SIZE: 2, DATABASE_STATEMENT_TIMEOUT_MS: 0 }),
              }).initialize();
              try {
                await runMigrationsLocked(migrator, (l) => logger.log(l));
              } finally {
                await migrator.destroy();
              }
            }
            return new DataSource(options!).initialize();
          },
        }),
      ],
    };
  }
}
