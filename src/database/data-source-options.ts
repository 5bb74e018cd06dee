import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/config.schema.js';
import { migrations } from './migrations/index.js';

/** Options shared by the app and the TypeORM CLI; `synchronize` stays off: the schema is the migrations. */
export function dataSourceOptions(
  config: Pick<AppConfig, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>,
): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.DATABASE_URL,
    synchronize: false,
    migrationsRun: false,
    migrations,
    migrationsTableName: 'typeorm_migrations',
    applicationName: 'squall',
    extra: {
      max: config.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: 5000,
      // A dead connection must not hang a request forever.
      query_timeout: 30_000,
    },
  };
}
