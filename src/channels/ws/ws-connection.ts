import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Principal } from '../../auth/principal.js';
import type { ChannelSubscription } from '../channels.service.js';
import type { Envelope } from '../envelope.js';
import type { Subscriber } from '../hub/subscriber.js';
import { replyFrame } from './frames.js';
import { catchUpLowWater, drained } from '../catch-up-pacing.js';

export const CLOSE_GOING_AWAY = 1001;
const TEXT = { binary: false } as const;
export const CLOSE_TRY_AGAIN_LATER = 1013;
/**
 * How long a slow consumer gets to take its 1013 before its socket is cut:
 * its close frame sits behind everything it did not read, so waiting for the
 * close handshake (ws's closeTimeout, 30 s) would only hold memory.
 */
export const SLOW_CONSUMER_GRACE_MS = 1000;

const terminate = (socket: WebSocket) => socket.terminate();
const NONE: readonly ChannelSubscription[] = [];

const ids = new WeakMap<object, string>();
let lastId = 0;

/** The connection's id (`ws:N`), the same in every log line about it. */
export function connIdOf(socket: object): string {
  let id = ids.get(socket);
  if (!id) ids.set(socket, (id = `ws:${++lastId}`));
  return id;
}

/** What the gateway hears from its connections: one object shared by all of them. */
export interface WsConnectionEvents {
  /** Runs once, as soon as the connection is closing for any reason: ends its subscriptions. */
  closing(conn: WsConnection): void;
  /** The connection was dropped for not reading (1013). */
  slowConsumer(conn: WsConnection): void;
}

/**
 * Squall's state for one WebSocket: its subscriptions, liveness and send
 * side. (Its frames are served one at a time by SquallWsAdapter.)
 *
 * Thousands of these sit idle, so it is one plain object per connection: it
 * is the hub Subscriber of all its subscriptions itself (no closures per
 * subscribe), its subscriptions are an array (most connections hold one or
 * two), and the gateway's events come from one shared object.
 */
export class WsConnection implements Subscriber {
  /** Identifies the connection in logs. */
  readonly id: string;
  /** Whom the rate limits count (clientKeyOf: the token's `sub`, else the address), set on connect. */
  clientKey = '';
  /** One per channel; replaced (never mutated) on change, so an iteration in progress is not disturbed. */
  private subs: readonly ChannelSubscription[] = NONE;
  missedPongs = 0;
  /** The TCP socket's bytesRead at the last heartbeat: any byte read since (a pong, a frame) means alive. */
  lastBytesRead = 0;
  closed = false;
  /** Whose token the connection carries; replaced by a `refresh`. */
  principal: Principal;
  /** The one timer watching the token's `exp` (see token-expiry.ts), and when it says `token_expiring`. */
  expiryTimer?: NodeJS.Timeout;
  warnAt = Infinity;
  private readonly lowWater: number;

  constructor(
    readonly socket: WebSocket,
    /** The TCP socket under `socket`: its 'drain' paces catch-up replays. */
    readonly tcp: Socket,
    private readonly maxBufferedBytes: number,
    principal: Principal,
    private readonly events: WsConnectionEvents,
  ) {
    this.lowWater = catchUpLowWater(maxBufferedBytes);
    this.id = connIdOf(socket);
    this.principal = principal;
  }

  /** The subscription to `channel`, if any. */
  subscription(channel: string): ChannelSubscription | undefined {
    return this.subs.find((s) => s.subscription.channel === channel);
  }

  get subscriptions(): readonly ChannelSubscription[] {
    return this.subs;
  }

  /** Adds `sub`, replacing any earlier subscription to its channel (which the caller ends). */
  addSubscription(sub: ChannelSubscription): void {
    const channel = sub.subscription.channel;
    // concat allocates exactly what it holds; a spread or push would grow a
    // one-subscription array to 17 slots.
    this.subs = this.subs.filter((s) => s.subscription.channel !== channel).concat(sub);
  }

  removeSubscription(sub: ChannelSubscription): void {
    const rest = this.subs.filter((s) => s !== sub);
    this.subs = rest.length === 0 ? NONE : rest;
  }

  /** Forgets every subscription and returns them (for the caller to end). */
  takeSubscriptions(): readonly ChannelSubscription[] {
    const all = this.subs;
    this.subs = NONE;
    return all;
  }

  /** Subscriber: a live or replayed message of one of its channels, framed once per message by the envelope. */
  deliver(envelope: Envelope): void {
    this.send(envelope.wsFrame());
  }

  /** Subscriber: the hub gave up on it (too far behind). */
  overflow(): void {
    this.dropSlowConsumer();
  }

  reply(event: string, data: unknown, ref?: string): void {
    this.send(replyFrame(event, data, ref));
  }

  /**
   * Sends a serialised frame. A client that does not read fast enough to keep
   * its unsent buffer under WS_MAX_BUFFERED_BYTES is closed with 1013: it
   * reconnects and resumes with `after`, and never slows anyone else down.
   */
  send(frame: string | Buffer): void {
    if (this.closed) return;
    if (this.socket.readyState !== 1) {
      // The client started closing: ws says so only once the handshake ends.
      this.markClosing();
      return;
    }
    // A Buffer would go out as a binary frame unless told otherwise.
    this.socket.send(frame, TEXT);
    if (this.socket.bufferedAmount > this.maxBufferedBytes) this.dropSlowConsumer();
  }

  /** For catch-up pacing (see Subscriber.writable): waits while a quarter of the limit is unsent. */
  writable(): Promise<void> | undefined {
    if (this.closed || this.socket.bufferedAmount <= this.lowWater) return undefined;
    return drained(this.tcp);
  }

  /** 1013: the client reconnects and resumes with `after`; nobody else waits for it. */
  dropSlowConsumer(): void {
    if (this.closed) return;
    this.events.slowConsumer(this);
    this.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer: reconnect and resume with after');
    setTimeout(terminate, SLOW_CONSUMER_GRACE_MS, this.socket).unref();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.markClosing();
    this.socket.close(code, reason);
  }

  /**
   * The connection delivers nothing more from here on. Called on our own
   * close and on the client's (ws's 'close' event comes only after the close
   * handshake, up to 30 s later), so subscriptions end at once either way.
   */
  markClosing(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.events.closing(this);
  }
}
