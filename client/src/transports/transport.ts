import type { SquallError } from '../errors.js';
import type { Message, PublishAck, TransportName } from '../types.js';

/** How a transport tells the client about one subscription. Calls come in order: `subscribed` first. */
export interface ChannelListener {
  subscribed(lastSeq: number, truncated: boolean): void;
  message(message: Message): void;
  /** Long poll: a page said retention removed messages after the cursor. */
  truncated(): void;
  /** WebSocket: a token refresh ended the subscription (the new token may not read the channel). */
  revoked(error: SquallError): void;
}

/** Why a transport ended. */
export interface CloseInfo {
  reason: string;
  code?: number;
}

/**
 * One connection (WebSocket) or set of requests (SSE, long poll) to one
 * instance. A transport never reconnects by itself: when anything fails it
 * calls `onClose` once and is thrown away; the client makes a new one and
 * resumes every subscription from its cursor. That keeps the resume logic in
 * one place for all three transports.
 */
export interface Transport {
  readonly name: TransportName;
  /** Resolves once connected (WebSocket open); rejects when it cannot connect. */
  open(): Promise<void>;
  /** Resolves once the server confirmed the subscription (`listener.subscribed` was called). */
  subscribe(channel: string, after: number | undefined, listener: ChannelListener): Promise<void>;
  unsubscribe(channel: string): void;
  publish(channel: string, data: unknown, idempotencyKey: string): Promise<PublishAck>;
  /** Ends everything without calling `onClose`. */
  close(): void;
}

/**
 * A WebSocket constructor: the browser's global one, or e.g. the `ws` package's
 * in Node 20. Typed loosely so either fits without a cast; the instance is used
 * through `WebSocketLike`.
 */
export type WebSocketConstructor = new (url: string) => object;

/** The part of the standard WebSocket API the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type FetchLike = typeof fetch;

/** What the client gives a transport it creates. */
export interface TransportContext {
  /** The instance's base URL, `http(s)://host[:port][/prefix]`, without a trailing slash. */
  baseUrl: string;
  /** The token for this connection, resolved once per (re)connect. */
  token: string | undefined;
  fetch: FetchLike;
  WebSocket?: WebSocketConstructor;
  /** Called at most once, when the transport failed after `open` resolved, or while opening. */
  onClose(info: CloseInfo): void;
  /**
   * Resolves the token anew (the `token` function, when one was given): a
   * WebSocket calls it on `token_expiring` and sends the result as `refresh`.
   */
  freshToken(): Promise<string | undefined>;
  /** A token refresh on an open connection failed (the connection closes at the old token's `exp`). */
  onTokenError(error: SquallError): void;
  /** Sends a publish over HTTP (SSE and long poll publish this way). */
  httpPublish(channel: string, data: unknown, idempotencyKey: string): Promise<PublishAck>;
  timeouts: {
    openMs: number;
    pingIntervalMs: number;
    pongTimeoutMs: number;
    sseIdleMs: number;
    pollSeconds: number;
  };
}
