import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module.js';
import { ChannelsGateway } from './channels.gateway.js';

/** The `gateway` role: WebSocket at /v1/ws. main.ts installs SquallWsAdapter for it. */
@Module({ imports: [ChannelsModule], providers: [ChannelsGateway] })
export class GatewayModule {}
