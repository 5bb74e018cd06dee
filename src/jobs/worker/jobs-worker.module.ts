import { Module } from '@nestjs/common';
import { ChannelsModule } from '../../channels/channels.module.js';
import { JobsCoreModule } from '../jobs-core.module.js';
import { JobsWorkerService } from './jobs-worker.service.js';
import { JobsMaintenance } from './maintenance.service.js';
import { JobsReconciler } from './reconciler.service.js';

/** The `worker` role: BullMQ workers, the reconciler and cluster-wide maintenance. */
@Module({
  imports: [JobsCoreModule, ChannelsModule],
  providers: [JobsWorkerService, JobsReconciler, JobsMaintenance],
})
export class JobsWorkerModule {}
