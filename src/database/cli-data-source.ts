/**
 * Data source for the TypeORM CLI (`npm run migration:*`), which loads it from
 * `dist/`. Entities are listed here so `migration:generate` can diff them.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ChannelEntity } from '../channels/entities/channel.entity.js';
import { MessageEntity } from '../channels/entities/message.entity.js';
import { JobEntity } from '../jobs/entities/job.entity.js';
import { dataSourceOptions } from './data-source-options.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required for migration commands');

export default new DataSource({
  ...dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }),
  entities: [ChannelEntity, MessageEntity, JobEntity],
});
