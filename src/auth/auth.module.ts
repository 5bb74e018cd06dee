import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { ChannelAccess } from './channel-access.js';

/**
 * Tokens, principals and channel permissions, for every transport and
 * feature. Registers the global HTTP guard: every route needs a token unless
 * it is @Public() (src/infra/http/public.ts).
 */
@Global()
@Module({
  providers: [ChannelAccess, AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [ChannelAccess, AuthService],
})
export class AuthModule {}
