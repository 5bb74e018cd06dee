import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { BeforeApplicationShutdown, Logger, UseFilters } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WebSocket, WebSocketServer } from 'ws';
import { ChannelsService } from '../channels.service.js';
import { PublishRateLimit } from '../publish-rate-limit.js';
import { slowConsumersCounter } from '../slow-consumers.metric.js';
import { AppError } from '../../infra/errors/app-error.js';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import { Lifecycle } from '../../infra/lifecycle/lifecycle.js';
import { InjectMetrics } from '../../infra/metrics/metrics.js';
import { ConnectionsMetric } from '../../infra/metrics/connections.metric.js';
import { parsePublish, parseSubscribe, parseUnsubscribe } from './frame-data.js';
import { frameRefs } from './frames.js';
import { CLOSE_GOING_AWAY, WsConnection } from './ws-connection.js';
import { WsErrorFilter } from './ws-exception.filter.js';

const refOf = (data: object) => frameRefs.get(data);
const OPEN = 1;

/**
 * WebSocket frames to the channels hub, nothing else: `subscribe`,
 * `unsubscribe`, `publish`, `ping`, plus server pings and shutdown. Frame
 * parsing and unknown events are handled by SquallWsAdapter.
 */
@WebSocketGateway({ path: '/v1/ws' })
@UseFilters(WsErrorFilter)
export class ChannelsGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  private readonly logger = new Logger(ChannelsGateway.name);
  private readonly connections = new Map<WebSocket, WsConnection>();
  private heartbeat?: NodeJS.Timeout;
  private readonly frames: Counter;
  private readonly slowConsumers: Counter<'transport'>;

  constructor(
    private readonly channels: ChannelsService,
    private readonly rateLimit: PublishRateLimit,
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
    private readonly lifecycle: Lifecycle,
  ) {
    this.frames = new Counter({
      name: 'squall_ws_frames_total',
      help: 'WebSocket frames handled, by event',
      labelNames: ['event'],
      registers: [registry],
    });
    this.slowConsumers = slowConsumersCounter(registry);
    const connections = this.connections;
    ConnectionsMetric.of(registry).source('ws', () => connections.size);
    new Gauge({
      name: 'squall_ws_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
      collect() {
        this.set(connections.size);
      },
    });
  }

  afterInit(_server: WebSocketServer): void {
    // A peer that misses two pings in a row is gone (half-open TCP, sleeping laptop).
    this.heartbeat = setInterval(() => {
      for (const conn of this.connections.values()) {
        // A connection we are closing (1013, 1001) finishes its own close
        // handshake; one the client is closing delivers nothing more.
        if (conn.socket.readyState !== OPEN) conn.markClosing();
        if (conn.closed) continue;
        if (conn.missedPongs >= 2) {
          conn.socket.terminate();
          continue;
        }
        conn.missedPongs++;
        conn.socket.ping();
      }
    }, this.config.WS_PING_INTERVAL_MS);
    this.heartbeat.unref();
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    if (this.lifecycle.shuttingDown) {
      socket.close(CLOSE_GOING_AWAY, 'server shutting down');
      return;
    }
    // Guards do not run here; authentication will check `request` in this spot.
    const conn = new WsConnection(socket, request.socket as Socket, this.config.WS_MAX_BUFFERED_BYTES, {
      closing: (c) => this.release(c),
      slowConsumer: () => {
        this.slowConsumers.inc({ transport: 'ws' });
        this.logger.log({ msg: 'slow consumer closed (1013)', connId: conn.id });
      },
    });
    this.logger.debug({ msg: 'connected', connId: conn.id, ip: request.socket.remoteAddress });
    this.connections.set(socket, conn);
    // Any frame is as good as a pong: a client whose reads are paused behind a
    // slow frame cannot have its pongs read, yet it is plainly alive.
    const alive = () => (conn.missedPongs = 0);
    socket.on('pong', alive);
    socket.on('message', alive);
  }

  handleDisconnect(socket: WebSocket): void {
    const conn = this.connections.get(socket);
    if (!conn) return;
    this.connections.delete(socket);
    conn.markClosing();
    this.logger.debug({ msg: 'disconnected', connId: conn.id });
  }

  /** A closing connection's subscriptions end at once, not when its close handshake completes. */
  private release(conn: WsConnection): void {
    this.rateLimit.release(conn.id);
    for (const sub of conn.subscriptions.values()) this.channels.unsubscribe(sub);
    conn.subscriptions.clear();
  }

  // SquallWsAdapter serves one frame of a connection at a time, in order, so
  // a client's `subscribe` is answered before its next `publish` runs and its
  // publishes commit in the order it sent them.

  /**
   * `subscribed` is sent before any message of the channel: the hub holds
   * live messages until history after `after` has been replayed, then merges.
   * Subscribing again to a channel replaces the earlier subscription.
   */
  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'subscribe' });
    const conn = this.connection(socket);
    const { channel, after } = parseSubscribe(data);
    const existing = conn.subscriptions.get(channel);
    if (!existing && conn.subscriptions.size >= this.config.WS_MAX_SUBSCRIPTIONS) {
      throw new AppError('bad_request', `subscription limit of ${this.config.WS_MAX_SUBSCRIPTIONS} reached`);
    }
    const result = await this.channels.subscribe(
      channel,
      {
        deliver: (envelope) => conn.send(envelope.wsFrame()),
        overflow: () => conn.dropSlowConsumer(),
        writable: () => conn.writable(),
      },
      after,
    );
    if (conn.closed) {
      this.channels.unsubscribe(result);
      return;
    }
    if (existing) this.channels.unsubscribe(existing);
    conn.subscriptions.set(channel, result);
    // `instance`: which instance holds this subscription (behind a balancer, where a reconnect landed).
    const instance = this.config.INSTANCE_ID;
    conn.reply(
      'subscribed',
      result.truncated
        ? { channel, lastSeq: result.lastSeq, truncated: true, instance }
        : { channel, lastSeq: result.lastSeq, instance },
      refOf(data),
    );
    // History replay continues in the background; later frames are not held up.
    void this.channels.start(result);
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'unsubscribe' });
    const conn = this.connection(socket);
    const { channel } = parseUnsubscribe(data);
    const existing = conn.subscriptions.get(channel);
    if (existing) {
      this.channels.unsubscribe(existing);
      conn.subscriptions.delete(channel);
    }
    conn.reply('unsubscribed', { channel }, refOf(data));
  }

  @SubscribeMessage('publish')
  async publish(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'publish' });
    const conn = this.connection(socket);
    const { channel, data: payload, idempotencyKey } = parsePublish(data);
    this.rateLimit.check(conn.id);
    const { message, created } = await this.channels.publish(channel, payload, { idempotencyKey });
    const ack = { channel, seq: message.seq, id: message.id };
    conn.reply('ack', created ? ack : { ...ack, duplicate: true }, refOf(data));
  }

  @SubscribeMessage('ping')
  ping(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'ping' });
    this.connection(socket).reply('pong', {}, refOf(data));
  }

  /** Tells every client to reconnect elsewhere (1001) before the server closes. */
  beforeApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    for (const conn of this.connections.values()) conn.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  private connection(socket: WebSocket): WsConnection {
    // A frame read just as shutdown began: the 1001 close follows; say "elsewhere, shortly".
    if (this.lifecycle.shuttingDown) {
      throw new AppError('unavailable', 'server shutting down; reconnect and retry', 1);
    }
    const conn = this.connections.get(socket);
    if (!conn) throw new AppError('internal', 'connection not registered');
    return conn;
  }
}
