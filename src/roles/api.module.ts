import { type DynamicModule, Module } from '@nestjs/common';
import { DashboardModule } from '../dashboard/dashboard.module.js';
import { ChannelsHttpModule } from '../channels/http/channels-http.module.js';
import type { AppConfig } from '../infra/config/config.schema.js';
import { JobsBoardModule } from '../jobs/board/jobs-board.module.js';
import { JobsHttpModule } from '../jobs/http/jobs-http.module.js';
import { NamespacesHttpModule } from '../namespaces/http/namespaces-http.module.js';

/**
 * The `api` role: everything served over plain HTTP. A feature's REST
 * controllers live in its own folder (`<feature>/http/`); list its HTTP
 * module here.
 */
@Module({})
export class ApiRoleModule {
  static forRoot(config: AppConfig): DynamicModule {
    const imports: NonNullable<DynamicModule['imports']> = [
      ChannelsHttpModule, // /v1/channels: publish, history, long poll, SSE
      JobsHttpModule, // /v1/jobs
      NamespacesHttpModule, // /v1/namespaces
      DashboardModule, // / and /dashboard/app.js: the live dashboard
    ];
    if (config.BULL_BOARD_ENABLED ?? config.NODE_ENV !== 'production') imports.push(JobsBoardModule);
    return { module: ApiRoleModule, imports };
  }
}
