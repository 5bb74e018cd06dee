import { Module } from '@nestjs/common';
import { JobsWorkerModule } from '../jobs/worker/jobs-worker.module.js';

/** The `worker` role: BullMQ workers running jobs, the reconciler, cluster-wide maintenance (retention). */
@Module({ imports: [JobsWorkerModule] })
export class WorkerRoleModule {}
