import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Principal } from '../../auth/principal.js';
import type { ChannelSubscription } from '../channels.service.js';
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

const ids = new WeakMap<object, string>();
let lastId = 0;

/** The connection's id (`ws:N`), the same in every log line about it. */
export function connIdOf(socket: object): string {
  let id = ids.get(socket);
  if (!id) ids.set(socket, (id = `ws:${++lastId}`));
  return id;
}

/**
 * Squall's state for one WebSocket: its subscriptions, liveness and send
 * side. (Its frames are served one at a time by SquallWsAdapter.)
 */
export class WsConnection {
  /** Identifies the connection in logs. */
  readonly id: string;
  /** Whom the rate limits count (clientKeyOf: the token's `sub`, else the address), set on connect. */
  clientKey = '';
  readonly subscriptions = new Map<string, ChannelSubscription>();
  missedPongs = 0;
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
    private readonly tcp: Socket,
    private readonly maxBufferedBytes: number,
    principal: Principal,
    private readonly events: {
      /** Runs once, as soon as the connection is closing for any reason: ends its subscriptions. */
      closing(conn: WsConnection): void;
      /** The connection was dropped for not reading (1013). */
      slowConsumer(): void;
    },
  ) {
    this.lowWater = catchUpLowWater(maxBufferedBytes);
    this.id = connIdOf(socket);
    this.principal = principal;
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
    this.events.slowConsumer();
    this.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer: reconnect and resume with after');
    setTimeout(() => this.socket.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
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
