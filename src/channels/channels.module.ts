import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NamespacesModule } from '../namespaces/namespaces.module.js';
import { BROKER } from './broker/broker.js';
import { RedisBroker } from './broker/redis.broker.js';
import { RedisShardedBroker } from './broker/redis-sharded.broker.js';
import { ChannelsService } from './channels.service.js';
import { ChannelEntity } from './entities/channel.entity.js';
import { MessageEntity } from './entities/message.entity.js';
import { HubService } from './hub/hub.service.js';
import { MessageStore } from './message.store.js';
import { APP_CONFIG, type AppConfig } from '../infra/config/app-config.js';
import { RedisService } from '../infra/redis/redis.service.js';

/** The channels core (store, hub, broker) without transports: every role loads it. */
@Module({
  imports: [TypeOrmModule.forFeature([ChannelEntity, MessageEntity]), NamespacesModule],
  providers: [
    MessageStore,
    // One Redis: classic pub/sub. A Redis Cluster: sharded pub/sub, so each
    // channel's traffic touches one shard.
    {
      provide: BROKER,
      inject: [APP_CONFIG, RedisService],
      useFactory: (config: AppConfig, redis: RedisService) =>
        config.REDIS_CLUSTER_NODES ? new RedisShardedBroker(redis) : new RedisBroker(redis),
    },
    HubService,
    ChannelsService,
  ],
  exports: [ChannelsService],
})
export class ChannelsModule {}
