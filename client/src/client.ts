import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { SquallError } from './errors.js';
import { httpJson, publishOverHttp, type HttpRequest } from './http.js';
import { Jobs } from './jobs.js';
import { Subscription, type MessageHandler, type SubscribeOptions } from './subscription.js';
import { LongPollTransport } from './transports/longpoll.js';
import { SseTransport } from './transports/sse.js';
import type {
  CloseInfo,
  FetchLike,
  Transport,
  TransportContext,
  WebSocketConstructor,
} from './transports/transport.js';
import { WebSocketTransport } from './transports/websocket.js';
import type { ClientEvents, PublishAck, TransportName } from './types.js';

export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface Timeouts {
  /** Opening a WebSocket, or the first answer of an SSE stream or long poll. Default 10 s. */
  openMs: number;
  /** How often a WebSocket client checks that the connection still answers. Default 20 s. */
  pingIntervalMs: number;
  /** How long it waits for that answer before reconnecting. Default 10 s. */
  pongTimeoutMs: number;
  /** Silence on an SSE stream (the server sends a heartbeat every 15 s) before reconnecting. Default 40 s. */
  sseIdleMs: number;
  /** The `timeout` of each long poll, in seconds (0..60). Default 25. */
  pollSeconds: number;
  /** One HTTP request (publish over HTTP, jobs). Default 15 s. */
  requestMs: number;
}

export interface ClientOptions {
  /**
   * The token: a string, or a function called before each connection attempt
   * and each HTTP request, and on the server's `token_expiring`, so a
   * WebSocket refreshes its token in place (`refresh`) and a reconnect uses a
   * fresh one. Sent as `Authorization: Bearer` over HTTP and as `?token=` on
   * WebSocket and SSE.
   */
  token?: string | TokenSource;
  /** The same as `token` given as a function (kept for existing callers). */
  getToken?: TokenSource;
  /** Use only this transport. */
  transport?: TransportName;
  /** The order transports are tried in. Default websocket, then sse, then longpoll. */
  transports?: TransportName[];
  /**
   * Failed connection attempts of a transport that never worked, while plain
   * HTTP to the same URL answers, before the client moves on to the next
   * one. Default 2. Once a transport has worked,
   * the client keeps it: later failures are the network or the server, which a
   * fallback would not fix.
   */
  fallbackAfter?: number;
  backoff?: BackoffOptions;
  /** A publish (or job submit) gives up with `timeout` after this long, retries included. Default 30 s. */
  publishTimeoutMs?: number;
  timeouts?: Partial<Timeouts>;
  /** The WebSocket implementation. Default: the global one (browsers, Node 22+); in Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** The fetch implementation. Default: the global one. */
  fetch?: FetchLike;
}

export interface PublishOptions {
  /**
   * Names this publish: a retry with the same key is applied once. Generated
   * when left out; every retry the client makes itself reuses it.
   */
  idempotencyKey?: string;
  /** Overrides `publishTimeoutMs`. */
  timeoutMs?: number;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

const DEFAULT_TIMEOUTS: Timeouts = {
  openMs: 10_000,
  pingIntervalMs: 20_000,
  pongTimeoutMs: 10_000,
  sseIdleMs: 40_000,
  pollSeconds: 25,
  requestMs: 15_000,
};

/** The current connection: its transport, and how to end it from outside. */
interface Link {
  transport: Transport;
  url: string;
  lose(info: CloseInfo): void;
}

/**
 * A connection to Squall. Connects on first use, reconnects by itself, and
 * resumes every subscription from the last seq it delivered.
 */
export class SquallClient extends Emitter<ClientEvents> {
  /** Background jobs: submit, follow, cancel. */
  readonly jobs: Jobs;
  private readonly urls: string[];
  private readonly order: TransportName[];
  private readonly timeouts: Timeouts;
  private readonly fetchFn: FetchLike;
  private readonly subs = new Map<string, Subscription<unknown>>();
  private link?: Link;
  private linking?: Link;
  private connectionState: ConnectionState = 'idle';
  private urlIndex = 0;
  private transportIndex = 0;
  private readonly proven = new Set<TransportName>();
  private failuresBeforeProven = 0;
  private attempt = 0;
  private waiters = new Set<() => void>();
  private readonly sleepers = new Set<() => void>();

  constructor(
    url: string | string[],
    private readonly options: ClientOptions = {},
  ) {
    super();
    this.urls = (Array.isArray(url) ? url : [url]).map((u) => u.replace(/\/+$/, ''));
    if (this.urls.length === 0) throw new SquallError('bad_request', 'createClient needs at least one URL');
    this.order = options.transport
      ? [options.transport]
      : (options.transports ?? ['websocket', 'sse', 'longpoll']);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
    const fetchFn = options.fetch ?? globalFetch?.bind(globalThis);
    if (!fetchFn) throw new SquallError('bad_request', 'no fetch implementation: pass options.fetch');
    this.fetchFn = fetchFn;
    this.jobs = new Jobs(this);
  }

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** The transport in use, once connected. */
  get transport(): TransportName | undefined {
    return this.link?.transport.name;
  }

  /** The base URL of the instance in use, once connected. */
  get url(): string | undefined {
    return this.link?.url;
  }

  /** Starts connecting (subscribe and publish do it for you). */
  connect(): void {
    if (this.connectionState !== 'idle') return;
    this.connectionState = 'connecting';
    void this.run();
  }

  /**
   * Subscribes to `channel` and calls `onMessage` for each message, in seq
   * order, each once, across reconnects. One subscription per channel and client.
   */
  subscribe<T = unknown>(channel: string, onMessage: MessageHandler<T>): Subscription<T>;
  subscribe<T = unknown>(
    channel: string,
    options: SubscribeOptions,
    onMessage: MessageHandler<T>,
  ): Subscription<T>;
  subscribe<T = unknown>(
    channel: string,
    optionsOrHandler: SubscribeOptions | MessageHandler<T>,
    maybeHandler?: MessageHandler<T>,
  ): Subscription<T> {
    const [options, handler] =
      typeof optionsOrHandler === 'function' ? [{}, optionsOrHandler] : [optionsOrHandler, maybeHandler!];
    if (this.connectionState === 'closed') throw new SquallError('closed', 'the client is closed');
    if (this.subs.has(channel)) throw new SquallError('bad_request', `already subscribed to ${channel}`);
    const sub: Subscription<T> = new Subscription<T>(channel, options, handler, {
      truncated: (event) => this.emit('truncated', event),
      callbackError: (error) => this.emit('error', { error, channel }),
      unsubscribe: (s) => {
        if (this.subs.get(channel) !== s) return;
        this.subs.delete(channel);
        this.link?.transport.unsubscribe(channel);
      },
    });
    this.subs.set(channel, sub as Subscription<unknown>);
    const link = this.link;
    if (link)
      this.subscribeOn(link, sub as Subscription<unknown>).catch((err: Error) =>
        link.lose({ reason: err.message }),
      );
    this.connect();
    return sub;
  }

  /**
   * Publishes `data` on `channel` and resolves with the ack once it is
   * committed. Retried with the same idempotency key through disconnects and
   * 503s until `timeoutMs`, so it is applied once.
   */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishAck> {
    const key = options.idempotencyKey ?? newKey();
    const deadline = Date.now() + (options.timeoutMs ?? this.options.publishTimeoutMs ?? 30_000);
    this.connect();
    for (let attempt = 0; ; attempt++) {
      const link = await this.connected(deadline);
      try {
        return await withDeadline(link.transport.publish(channel, data, key), deadline);
      } catch (err) {
        const error = asSquallError(err);
        if (!error.retryable || Date.now() >= deadline) throw error;
        // The request may have reached an instance that is gone or hung: reconnect (elsewhere, given several URLs).
        if (error.code === 'disconnected' || error.code === 'timeout') link.lose({ reason: error.message });
        await this.pause(
          Math.min(error.retryAfterMs ?? backoffDelay(attempt, this.options.backoff), deadline - Date.now()),
        );
      }
    }
  }

  /** Closes the connection and every subscription; pending publishes reject with `closed`. */
  close(): void {
    if (this.connectionState === 'closed') return;
    this.connectionState = 'closed';
    // Ends them with an error (not a quiet unsubscribe) so whatever waits on one, `ready` or `jobs.follow`, is told.
    const closedError = new SquallError('closed', 'the client was closed');
    for (const sub of this.subs.values()) sub.failed(closedError);
    this.subs.clear();
    for (const link of [this.link, this.linking]) {
      link?.transport.close();
      // Lets the reconnect loop see the close and end, instead of waiting on this connection forever.
      link?.lose({ reason: 'client closed' });
    }
    this.link = this.linking = undefined;
    for (const wake of this.sleepers) wake();
    for (const wake of this.waiters) wake();
  }

  /**
   * @internal One HTTP request to the API (jobs), retried on a dropped
   * connection or a 503 (on the next URL, given several) until `deadline`. Only
   * for requests that are safe to repeat: reads, and writes with an idempotency key.
   */
  async request<T>(
    path: string,
    request: HttpRequest = {},
    timeoutMs?: number,
  ): Promise<{ status: number; body: T }> {
    const deadline = Date.now() + (timeoutMs ?? this.options.publishTimeoutMs ?? 30_000);
    let index = this.urlIndex;
    for (let attempt = 0; ; attempt++) {
      if (this.connectionState === 'closed') throw new SquallError('closed', 'the client is closed');
      try {
        const token = (await this.resolveToken()) ?? undefined;
        const timeout = Math.max(1, Math.min(this.timeouts.requestMs, deadline - Date.now()));
        return await httpJson<T>(this.fetchFn, this.urls[index] + path, {
          ...request,
          token,
          timeoutMs: timeout,
        });
      } catch (err) {
        const error = asSquallError(err);
        if (!error.retryable || Date.now() >= deadline) throw error;
        if (error.code === 'disconnected') index = (index + 1) % this.urls.length;
        await this.pause(
          Math.min(error.retryAfterMs ?? backoffDelay(attempt, this.options.backoff), deadline - Date.now()),
        );
      }
    }
  }

  /** The reconnect loop: connect, resume every subscription, wait for the end, back off, again. */
  private async run(): Promise<void> {
    while (this.connectionState !== 'closed') {
      const name = this.order[this.transportIndex];
      const url = this.urls[this.urlIndex];
      this.connectionState = 'connecting';
      this.emit('connecting', { transport: name, url, attempt: this.attempt });
      let lose!: (info: CloseInfo) => void;
      const lost = new Promise<CloseInfo>((resolve) => (lose = resolve));
      let info: CloseInfo;
      let link: Link | undefined;
      try {
        const token = (await this.resolveToken()) ?? undefined;
        if (this.isClosed()) return;
        link = { transport: this.create(name, url, token, (i) => lose(i)), url, lose: (i) => lose(i) };
        this.linking = link;
        await Promise.race([link.transport.open(), lost.then((i) => Promise.reject(new Error(i.reason)))]);
        if (this.isClosed()) return;
        this.link = link;
        this.linking = undefined;
        if (name === 'websocket') this.proven.add(name);
        this.connectionState = 'connected';
        this.emit('connected', { transport: name, url });
        for (const wake of this.waiters) wake();
        const subs = [...this.subs.values()];
        const resumed = Promise.all(subs.map((sub) => this.subscribeOn(link!, sub))).then(() => undefined);
        const early = await Promise.race([resumed, lost]);
        if (early) {
          info = early;
        } else {
          this.attempt = 0;
          info = await lost;
        }
      } catch (err) {
        info = { reason: (err as Error).message };
      }
      link?.transport.close();
      if (this.link === link) this.link = undefined;
      if (this.linking === link) this.linking = undefined;
      if (this.isClosed()) return;
      await this.considerFallback(name, url, info.reason);
      if (this.isClosed()) return;
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      const retryInMs = backoffDelay(this.attempt++, this.options.backoff);
      this.connectionState = 'disconnected';
      this.emit('disconnected', { transport: name, url, reason: info.reason, code: info.code, retryInMs });
      await this.pause(retryInMs);
    }
  }

  /** Subscribes one subscription on a connection; a refusal for good fails the subscription, anything else the connection. */
  private async subscribeOn(link: Link, sub: Subscription<unknown>): Promise<void> {
    const current = () => this.link === link && this.subs.get(sub.channel) === sub && sub.isActive;
    try {
      await link.transport.subscribe(sub.channel, sub.resumeFrom(), {
        subscribed: (lastSeq, truncated) => current() && sub.subscribed(lastSeq, truncated),
        message: (message) => current() && sub.deliver(message),
        truncated: () => current() && sub.truncated(),
        revoked: (error) => {
          if (!current()) return;
          this.subs.delete(sub.channel);
          sub.failed(error);
          this.emit('error', { error, channel: sub.channel });
        },
      });
      this.proven.add(link.transport.name);
    } catch (err) {
      if (!current()) return;
      const error = asSquallError(err);
      if (error.retryable || error.code === 'closed') throw error;
      this.subs.delete(sub.channel);
      sub.failed(error);
      this.emit('error', { error, channel: sub.channel });
    }
  }

  /**
   * A transport that has never worked and keeps failing while plain HTTP to
   * the same URL answers is probably blocked (a proxy): try the next one. When
   * nothing answers, the service is down, every transport would fail alike,
   * and falling back would only leave the client on a worse one once it is back.
   */
  private async considerFallback(name: TransportName, url: string, reason: string): Promise<void> {
    if (this.proven.has(name) || this.order.length < 2) return;
    if (!(await this.answers(url))) return;
    if (++this.failuresBeforeProven < (this.options.fallbackAfter ?? 2)) return;
    this.failuresBeforeProven = 0;
    this.transportIndex = (this.transportIndex + 1) % this.order.length;
    this.emit('fallback', { from: name, to: this.order[this.transportIndex], reason });
  }

  /** Whether anything answers HTTP at `url` (any status: a proxy's 404 counts). */
  private async answers(url: string): Promise<boolean> {
    try {
      await httpJson(this.fetchFn, `${url}/health/live`, { timeoutMs: this.timeouts.openMs });
      return true;
    } catch (err) {
      return err instanceof SquallError && err.status !== undefined;
    }
  }

  private create(
    name: TransportName,
    url: string,
    token: string | undefined,
    onClose: (info: CloseInfo) => void,
  ): Transport {
    const ctx: TransportContext = {
      baseUrl: url,
      token,
      fetch: this.fetchFn,
      WebSocket: this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
      onClose,
      freshToken: async () => (await this.resolveToken()) ?? undefined,
      onTokenError: (error) => this.emit('error', { error }),
      httpPublish: async (channel, data, key) =>
        publishOverHttp(
          this.fetchFn,
          url,
          (await this.resolveToken()) ?? undefined,
          channel,
          data,
          key,
          this.timeouts.requestMs,
        ),
      timeouts: this.timeouts,
    };
    if (name === 'websocket') return new WebSocketTransport(ctx);
    if (name === 'sse') return new SseTransport(ctx);
    return new LongPollTransport(ctx);
  }

  /** A method, not a field read, so TypeScript does not narrow it away across awaits. */
  private isClosed(): boolean {
    return this.connectionState === 'closed';
  }

  private async resolveToken(): Promise<string | null | undefined> {
    const { token, getToken } = this.options;
    const source = typeof token === 'function' ? token : getToken;
    return source ? await source() : (token as string | undefined);
  }

  /** Resolves with the connection once there is one; rejects at `deadline` or on close. */
  private connected(deadline: number): Promise<Link> {
    return new Promise<Link>((resolve, reject) => {
      const check = () => {
        if (this.connectionState === 'closed') return done(new SquallError('closed', 'the client is closed'));
        if (this.link) return done(undefined, this.link);
        if (Date.now() >= deadline) return done(new SquallError('timeout', 'not connected in time'));
      };
      const timer = setTimeout(check, Math.max(0, deadline - Date.now()));
      const done = (err?: SquallError, link?: Link) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(link!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits `ms`, or less when the client is closed. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.sleepers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      this.sleepers.add(finish);
    });
  }
}

/** Connects to the instance(s) at `url`: one base URL (`https://host`), or several, tried in turn on reconnect. */
export function createClient(url: string | string[], options: ClientOptions = {}): SquallClient {
  return new SquallClient(url, options);
}

function asSquallError(err: unknown): SquallError {
  return err instanceof SquallError
    ? err
    : new SquallError('disconnected', String((err as Error)?.message ?? err), { cause: err });
}

function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new SquallError('timeout', 'no answer in time; retrying with the same idempotencyKey is safe'),
        ),
      Math.max(0, deadline - Date.now()),
    );
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err)),
    );
  });
}

/** A random idempotency key: `crypto.randomUUID` where available (browsers on https, Node 19+). */
export function newKey(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
