import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels.module.js';
import { ChannelsGateway } from './channels.gateway.js';

/** The WebSocket transport of channels at /v1/ws (the `gateway` role). */
@Module({ imports: [ChannelsModule], providers: [ChannelsGateway] })
export class ChannelsWsModule {}
