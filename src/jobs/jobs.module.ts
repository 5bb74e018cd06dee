import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, hasRole } from '../config/config.schema.js';
import { JobsBoardModule } from './board/jobs-board.module.js';
import { JobsHttpModule } from './http/jobs-http.module.js';
import { JobsCoreModule } from './jobs-core.module.js';
import { JobsWorkerModule } from './worker/jobs-worker.module.js';

/**
 * Background jobs. Every role can submit (JobsService) and validates against
 * the registered handlers; `api` adds the REST endpoints and the board,
 * `worker` runs the jobs. Handlers live in any module (see src/demo).
 */
@Module({})
export class JobsModule {
  static forRoot(config: AppConfig): DynamicModule {
    const imports: NonNullable<DynamicModule['imports']> = [JobsCoreModule];
    if (hasRole(config, 'api')) {
      imports.push(JobsHttpModule);
      if (config.BULL_BOARD_ENABLED ?? config.NODE_ENV !== 'production') imports.push(JobsBoardModule);
    }
    if (hasRole(config, 'worker')) imports.push(JobsWorkerModule);
    return { module: JobsModule, imports, exports: [JobsCoreModule] };
  }
}
