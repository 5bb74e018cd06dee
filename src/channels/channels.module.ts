import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NamespacesModule } from '../namespaces/namespaces.module.js';
import { BROKER } from './broker/broker.js';
import { RedisBroker } from './broker/redis.broker.js';
import { ChannelsService } from './channels.service.js';
import { ChannelEntity } from './entities/channel.entity.js';
import { MessageEntity } from './entities/message.entity.js';
import { HubService } from './hub/hub.service.js';
import { MessageStore } from './message.store.js';

/** The channels core (store, hub, broker) without transports: every role loads it. */
@Module({
  imports: [TypeOrmModule.forFeature([ChannelEntity, MessageEntity]), NamespacesModule],
  providers: [MessageStore, { provide: BROKER, useClass: RedisBroker }, HubService, ChannelsService],
  exports: [ChannelsService],
})
export class ChannelsModule {}
