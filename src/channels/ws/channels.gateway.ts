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
import { AuthService } from '../../auth/auth.service.js';
import { ChannelAccess } from '../../auth/channel-access.js';
import type { Principal } from '../../auth/principal.js';
import { ChannelsService } from '../channels.service.js';
import { assertChannelName } from '../channel-name.js';
import { slowConsumersCounter } from '../slow-consumers.metric.js';
import { AppError } from '../../infra/errors/app-error.js';
import { RateLimits } from '../../limits/rate-limits.js';
import { upgradeClientKey } from '../../limits/ws-connection-limits.js';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import { Lifecycle } from '../../infra/lifecycle/lifecycle.js';
import { InjectMetrics } from '../../infra/metrics/metrics.js';
import { ConnectionsMetric } from '../../infra/metrics/connections.metric.js';
import { parsePublish, parseRefresh, parseSubscribe, parseUnsubscribe } from './frame-data.js';
import { frameRefs } from './frames.js';
import { CLOSE_TOKEN_EXPIRED, tokenExpired, watchExpiry } from './token-expiry.js';
import { upgradePrincipals } from './upgrade-auth.js';
import { CLOSE_GOING_AWAY, WsConnection, type WsConnectionEvents } from './ws-connection.js';
import { WsErrorFilter } from './ws-exception.filter.js';

const refOf = (data: object) => frameRefs.get(data);
const OPEN = 1;
/** Closes a connection that has no authenticated principal (an upgrade that did not pass SquallWsAdapter). */
const CLOSE_POLICY_VIOLATION = 1008;
const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * WebSocket frames to the channels hub, nothing else: `subscribe`,
 * `unsubscribe`, `publish`, `ping`, `refresh`, plus server pings, token
 * expiry and shutdown. Frame parsing, unknown events and the upgrade's
 * origin and token checks are handled by SquallWsAdapter; every `subscribe`
 * and `publish` is checked against the connection's principal here.
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
  /** Shared by every connection (no closures per connection). */
  private readonly connectionEvents: WsConnectionEvents = {
    closing: (conn) => this.release(conn),
    slowConsumer: (conn) => {
      this.slowConsumers.inc({ transport: 'ws' });
      this.logger.log({ msg: 'slow consumer closed (1013)', connId: conn.id });
    },
  };

  constructor(
    private readonly channels: ChannelsService,
    private readonly rateLimits: RateLimits,
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
    private readonly lifecycle: Lifecycle,
    private readonly access: ChannelAccess,
    private readonly auth: AuthService,
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
        // Any byte read is as good as a pong: a client whose reads are paused
        // behind a slow frame cannot have its pongs read, yet it is plainly
        // alive. Counting bytes costs no listener per connection.
        const read = conn.tcp.bytesRead;
        if (read !== conn.lastBytesRead) {
          conn.lastBytesRead = read;
          conn.missedPongs = 0;
        }
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
    // Guards do not run here: SquallWsAdapter authenticated the upgrade and left its principal.
    const principal = upgradePrincipals.get(request);
    if (!principal) {
      socket.close(CLOSE_POLICY_VIOLATION, 'connection not authenticated');
      return;
    }
    upgradePrincipals.delete(request);
    // Nothing here keeps `request` (headers and all) past this call: the
    // connection holds its principal, client key and TCP socket only.
    const tcp = request.socket as Socket;
    const conn = new WsConnection(
      socket,
      tcp,
      this.config.WS_MAX_BUFFERED_BYTES,
      principal,
      this.connectionEvents,
    );
    conn.clientKey = upgradeClientKey(request);
    conn.lastBytesRead = tcp.bytesRead;
    watchExpiry(conn);
    this.logger.debug({ msg: 'connected', connId: conn.id, ip: tcp.remoteAddress });
    this.connections.set(socket, conn);
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
    for (const sub of conn.takeSubscriptions()) this.channels.unsubscribe(sub);
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
    assertChannelName(channel);
    await this.access.assertCanRead(conn.principal, channel);
    const existing = conn.subscription(channel);
    if (!existing && conn.subscriptions.length >= this.config.WS_MAX_SUBSCRIPTIONS) {
      throw new AppError('bad_request', `subscription limit of ${this.config.WS_MAX_SUBSCRIPTIONS} reached`);
    }
    // The connection is the hub Subscriber of each of its subscriptions.
    const result = await this.channels.subscribe(channel, conn, after);
    if (conn.closed) {
      this.channels.unsubscribe(result);
      return;
    }
    // Looked up again: another subscribe to this channel may have finished meanwhile.
    const replaced = conn.subscription(channel);
    if (replaced) this.channels.unsubscribe(replaced);
    conn.addSubscription(result);
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
    const existing = conn.subscription(channel);
    if (existing) {
      this.channels.unsubscribe(existing);
      conn.removeSubscription(existing);
    }
    conn.reply('unsubscribed', { channel }, refOf(data));
  }

  @SubscribeMessage('publish')
  async publish(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'publish' });
    const conn = this.connection(socket);
    const { channel, data: payload, idempotencyKey } = parsePublish(data);
    assertChannelName(channel);
    this.access.assertCanPublish(conn.principal, channel);
    await this.rateLimits.take('publish', conn.clientKey);
    const { message, created } = await this.channels.publish(channel, payload, { idempotencyKey });
    const ack = { channel, seq: message.seq, id: message.id };
    conn.reply('ack', created ? ack : { ...ack, duplicate: true }, refOf(data));
  }

  @SubscribeMessage('ping')
  ping(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'ping' });
    this.connection(socket).reply('pong', {}, refOf(data));
  }

  /**
   * A new token for the same `sub` before the current one expires: it
   * replaces the connection's principal and restarts the expiry watch.
   * Subscriptions the new token may no longer read end, each with an
   * `unsubscribed {channel, reason: "forbidden"}`, before `refreshed`. An
   * invalid token is `unauthorized` and another `sub` is `forbidden` (an
   * identity is fixed for a connection's life: open another); either way the
   * connection keeps its current token and still closes at its `exp`.
   */
  @SubscribeMessage('refresh')
  async refresh(@ConnectedSocket() socket: WebSocket, @MessageBody() data: Record<string, unknown>) {
    this.frames.inc({ event: 'refresh' });
    const conn = this.connection(socket);
    const { token } = parseRefresh(data);
    const next = await this.auth.authenticate(token);
    if (conn.closed) return;
    if (next.sub !== conn.principal.sub) {
      throw new AppError(
        'forbidden',
        'the new token is for another sub; open a new connection to change identity',
      );
    }
    conn.principal = next;
    watchExpiry(conn);
    await this.dropUnreadable(conn, next);
    conn.reply('refreshed', { expiresAt: isoOrNull(next.expiresAt) }, refOf(data));
  }

  /** Ends the subscriptions `principal` may not read, each with an `unsubscribed` saying why. */
  private async dropUnreadable(conn: WsConnection, principal: Principal): Promise<void> {
    for (const sub of conn.subscriptions) {
      const channel = sub.subscription.channel;
      if (await this.access.canRead(principal, channel)) continue;
      if (conn.closed || conn.subscription(channel) !== sub) continue;
      this.channels.unsubscribe(sub);
      conn.removeSubscription(sub);
      conn.reply('unsubscribed', { channel, reason: 'forbidden' });
    }
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
    // Its timer is due this instant: a frame read meanwhile is not served on an expired token.
    if (tokenExpired(conn)) {
      conn.close(CLOSE_TOKEN_EXPIRED, 'token expired');
      throw new AppError('unauthorized', 'token expired');
    }
    return conn;
  }
}
