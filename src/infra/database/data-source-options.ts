import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/config.schema.js';
import { migrations } from './migrations/index.js';

/** Options shared by the app and the TypeORM CLI; `synchronize` stays off: the schema is the migrations. */
export function dataSourceOptions(
  config: Pick<AppConfig, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'> &
    Partial<Pick<AppConfig, 'DATABASE_STATEMENT_TIMEOUT_MS'>>,
): DataSourceOptions {
  // Postgres cancels a statement after DATABASE_STATEMENT_TIMEOUT_MS, and the
  // client gives up a little later. In that order, a statement the client
  // gave up on (and answered 503) has certainly ended and not committed; the
  // other way round it could commit after its publisher was told it failed.
  // Migrations pass 0, no timeout at all: a schema change may rightly take long.
  const statementTimeout = config.DATABASE_STATEMENT_TIMEOUT_MS;
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
      ...(statementTimeout === 0 ? {} : { query_timeout: (statementTimeout ?? 25_000) + 5_000 }),
      ...(statementTimeout ? { statement_timeout: statementTimeout } : {}),
    },
  };
}
