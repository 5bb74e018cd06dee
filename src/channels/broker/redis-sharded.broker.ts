import { Injectable, Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { AppError } from '../../infra/errors/app-error.js';
import { RedisService } from '../../infra/redis/redis.service.js';
import { withTimeout } from '../../lib/timeout.js';
import type { Broker } from './broker.js';

const SUBSCRIBE_TIMEOUT_MS = 3000;
/**
 * ioredis re-sends the SSUBSCRIBEs after a shard came back without a way to
 * await them; a second resync this much later covers a message published
 * between the first resync's read and the re-subscription (the hub's sweep
 * remains the net beneath both).
 */
const RESUBSCRIBE_SETTLE_MS = 1000;

/**
 * Redis Cluster fan-out with Redis 7 sharded pub/sub: `<prefix>:ch:<name>`
 * is a shard channel (SPUBLISH / SSUBSCRIBE), so a message travels only to
 * the master owning the channel's slot and the instances subscribed there,
 * instead of being broadcast over the cluster bus to every node (what
 * classic PUBLISH does on a cluster). Different channels land on different
 * shards, so fan-out scales with the number of masters.
 *
 * ioredis (`shardedSubscribers`) keeps one subscriber connection per master
 * and moves subscriptions when slots move (failover, resharding). When a
 * subscriber connection was lost, whatever was published meanwhile is gone:
 * once ioredis reports the subscribers ready again, the hub catches up from
 * Postgres, as with one Redis.
 */
@Injectable()
export class RedisShardedBroker implements Broker {
  private readonly logger = new Logger(RedisShardedBroker.name);
  private readonly keyPrefix: string;
  private readonly subscriber: Cluster;
  private messageHandler: (channel: string, json: string) => void = () => {};
  private resyncHandler: () => void = () => {};
  private settleTimer?: NodeJS.Timeout;

  constructor(private readonly redis: RedisService) {
    this.keyPrefix = redis.key('ch', '');
    this.subscriber = redis.create('sharded-subscriber', { shardedSubscribers: true }) as Cluster;
    this.subscriber.on('smessage', (key: string, json: string) => {
      if (key.startsWith(this.keyPrefix)) this.messageHandler(key.slice(this.keyPrefix.length), json);
    });
    // ioredis reports the subscribers ready after each pass that rebuilt
    // them: at start, after a shard's connection was lost (including passes
    // that could not reach it yet), after slots moved. Outside start each
    // such pass follows a possible loss; at start the hub follows nothing
    // yet, so its resync costs nothing.
    this.subscriber.on('subscribersReady', () => {
      this.logger.log('sharded subscribers (re)established: resyncing followed channels from Postgres');
      this.resyncHandler();
      clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => this.resyncHandler(), RESUBSCRIBE_SETTLE_MS);
      this.settleTimer.unref();
    });
  }

  async publish(channel: string, json: string): Promise<void> {
    await this.redis.command.spublish(this.keyPrefix + channel, json);
  }

  /** Bounded like the single-Redis broker: a client waiting to follow gets a prompt "retry". */
  async subscribe(channel: string): Promise<void> {
    await withTimeout(
      this.subscriber.ssubscribe(this.keyPrefix + channel),
      SUBSCRIBE_TIMEOUT_MS,
      () => new AppError('unavailable', 'Redis is unavailable; retry shortly', 2),
    );
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.subscriber.sunsubscribe(this.keyPrefix + channel);
  }

  onMessage(handler: (channel: string, json: string) => void): void {
    this.messageHandler = handler;
  }

  onResync(handler: () => void): void {
    this.resyncHandler = handler;
  }
}
