import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChannelsModule } from '../channels/channels.module.js';
import { JobEntity } from './entities/job.entity.js';
import { JobEvents } from './job-events.js';
import { JobOwners } from './job-owners.js';
import { JobQueues } from './job-queues.js';
import { JobRegistry } from './job-registry.js';
import { JobsMetrics } from './jobs.metrics.js';
import { JobsService } from './jobs.service.js';
import { JobsStore } from './jobs.store.js';
import { JobsBatchStore } from './jobs-batch.store.js';

/**
 * What every role needs: the registry, the store, the queues to enqueue into,
 * events (jobs claim the `job` namespace), who owns which job (the namespace's
 * read rule), metrics.
 */
@Module({
  imports: [DiscoveryModule, ChannelsModule, TypeOrmModule.forFeature([JobEntity])],
  providers: [
    JobRegistry,
    JobsStore,
    JobsBatchStore,
    JobQueues,
    JobEvents,
    JobOwners,
    JobsMetrics,
    JobsService,
  ],
  exports: [JobRegistry, JobsStore, JobsBatchStore, JobQueues, JobEvents, JobsMetrics, JobsService],
})
export class JobsCoreModule {}
