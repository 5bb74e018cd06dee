import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module.js';
import { StatsPublisher } from './stats.publisher.js';

/** Loaded by every role: each instance publishes its counts to `sys:stats` (see StatsPublisher). */
@Module({ imports: [ChannelsModule], providers: [StatsPublisher] })
export class DashboardStatsModule {}
