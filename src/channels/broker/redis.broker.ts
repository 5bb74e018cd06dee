import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../infra/errors/app-error.js';
import { RedisService } from '../../infra/redis/redis.service.js';
import type { Broker } from './broker.js';

/**
 * Redis pub/sub, one Redis channel per Squall channel (`<prefix>:ch:<name>`),
 * so Redis routes a message only to instances interested in it.
 */
const SUBSCRIBE_TIMEOUT_MS = 3000;

@Injectable()
export class RedisBroker implements Broker {
  private readonly logger = new Logger(RedisBroker.name);
  private readonly keyPrefix: string;
  private messageHandler: (channel: string, json: string) => void = () => {};
  private resyncHandler: () => void = () => {};

  constructor(private readonly redis: RedisService) {
    this.keyPrefix = redis.key('ch', '');
    redis.subscriber.on('message', (key: string, json: string) => {
      if (key.startsWith(this.keyPrefix)) this.messageHandler(key.slice(this.keyPrefix.length), json);
    });
    // ioredis re-subscribes by itself after a reconnect, but whatever was
    // published while the link was down is gone: ask the hub to catch up.
    let connectedBefore = false;
    redis.subscriber.on('ready', () => {
      if (connectedBefore) {
        this.logger.log('subscriber reconnected: resyncing channels from Postgres');
        // ioredis sends its re-SUBSCRIBEs just after emitting 'ready'. A PING
        // queued behind them answers once Redis has applied them, so the
        // resync that follows cannot miss a message published in between.
        setImmediate(() => {
          void redis.subscriber
            .ping()
            .catch(() => undefined)
            .then(() => this.resyncHandler());
        });
      }
      connectedBefore = true;
    });
  }

  async publish(channel: string, json: string): Promise<void> {
    await this.redis.command.publish(this.keyPrefix + channel, json);
  }

  /**
   * While Redis is down ioredis would queue the SUBSCRIBE for many reconnect
   * attempts; a client waiting to follow a channel gets a prompt "retry"
   * (503 / error frame) instead.
   */
  async subscribe(channel: string): Promise<void> {
    const pending = this.redis.subscriber.subscribe(this.keyPrefix + channel);
    pending.catch(() => undefined); // it may still fail after the timeout below
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        pending,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new AppError('unavailable', 'Redis is unavailable; retry shortly', 2)),
            SUBSCRIBE_TIMEOUT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.redis.subscriber.unsubscribe(this.keyPrefix + channel);
  }

  onMessage(handler: (channel: string, json: string) => void): void {
    this.messageHandler = handler;
  }

  onResync(handler: () => void): void {
    this.resyncHandler = handler;
  }
}
