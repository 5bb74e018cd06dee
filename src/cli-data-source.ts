/**
 * Data source for the TypeORM CLI (`npm run migration:*`), which loads it from
 * `dist/`. Entities are listed here so `migration:generate` can diff them.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './infra/database/data-source-options.js';
import { entities } from './entities.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required for migration commands');

export default new DataSource({
  ...dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }),
  entities,
});
