import { Global, Module } from '@nestjs/common';
import { ChannelAccess } from './channel-access.js';

/** Tokens, principals and channel permissions, for every transport and feature. */
@Global()
@Module({
  providers: [ChannelAccess],
  exports: [ChannelAccess],
})
export class AuthModule {}
