import { Module } from '@nestjs/common';
import { ChannelsWsModule } from '../channels/ws/channels-ws.module.js';

/** The `gateway` role: WebSocket at /v1/ws (main.ts installs SquallWsAdapter for it). */
@Module({ imports: [ChannelsWsModule] })
export class GatewayRoleModule {}
