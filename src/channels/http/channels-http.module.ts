import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels.module.js';
import { ChannelStreamController } from './channel-stream.controller.js';
import { ChannelsController } from './channels.controller.js';

/** REST, long poll and SSE: the `api` role's channel transports. */
@Module({
  imports: [ChannelsModule],
  controllers: [ChannelsController, ChannelStreamController],
})
export class ChannelsHttpModule {}
