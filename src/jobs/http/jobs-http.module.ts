import { Module } from '@nestjs/common';
import { JobsCoreModule } from '../jobs-core.module.js';
import { JobsController } from './jobs.controller.js';

/** The `api` role's REST endpoints under /v1/jobs. */
@Module({ imports: [JobsCoreModule], controllers: [JobsController] })
export class JobsHttpModule {}
