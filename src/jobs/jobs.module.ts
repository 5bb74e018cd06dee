import { Module } from '@nestjs/common';
import { JobsCoreModule } from './jobs-core.module.js';

/**
 * Background jobs as every role needs them: submit (JobsService), the
 * handler registry submits are validated against, events, metrics. The REST
 * endpoints and board (api role) and the workers (worker role) are added by
 * src/roles/. Handlers live in any module (see src/demo).
 */
@Module({ imports: [JobsCoreModule], exports: [JobsCoreModule] })
export class JobsModule {}
