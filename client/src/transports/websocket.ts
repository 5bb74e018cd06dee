import { SquallError } from '../errors.js';
import type { Message, PublishAck } from '../types.js';
import type { ChannelListener, Transport, TransportContext, WebSocketLike } from './transport.js';

interface Frame {
  event: string;
  data?: Record<string, unknown>;
  ref?: string;
}

interface Pending {
  /** Runs synchronously on the reply, before any later frame is handled (an `await` would run after them). */
  onReply?: (frame: Frame) => void;
  resolve: (frame: Frame) => void;
  reject: (err: SquallError) => void;
}

const OPEN = 1;

/**
 * One WebSocket to `/v1/ws`, multiplexing every subscription and publish
 * (docs/protocol.md, "WebSocket"). Replies are matched to requests by `ref`.
 */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket';
  private ws?: WebSocketLike;
  private refs = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Map<string, ChannelListener>();
  private pingTimer?: ReturnType<typeof setInterval>;
  private ended = false;

  constructor(private readonly ctx: TransportContext) {}

  /** `ws(s)://…/v1/ws`, with the token as `?token=` (browsers cannot set headers on a WebSocket). */
  url(): string {
    const url = new URL(`${this.ctx.baseUrl}/v1/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.ctx.token) url.searchParams.set('token', this.ctx.token);
    return url.toString();
  }

  open(): Promise<void> {
    const Ctor = this.ctx.WebSocket;
    if (!Ctor)
      return Promise.reject(new SquallError('disconnected', 'no WebSocket implementation available'));
    return new Promise<void>((resolve, reject) => {
      const ws = new Ctor(this.url()) as WebSocketLike;
      this.ws = ws;
      const timer = setTimeout(() => {
        reject(new SquallError('timeout', `WebSocket did not open within ${this.ctx.timeouts.openMs} ms`));
        this.end({ reason: 'open timeout' });
      }, this.ctx.timeouts.openMs);
      ws.onopen = () => {
        clearTimeout(timer);
        this.startPings();
        resolve();
      };
      // A browser tells nothing about why a WebSocket failed; `close` (code 1006) follows `error`.
      ws.onerror = () => undefined;
      ws.onclose = (event) => {
        clearTimeout(timer);
        reject(new SquallError('disconnected', `WebSocket closed (${event.code}) before it opened`));
        this.end({ reason: event.reason || 'connection closed', code: event.code });
      };
      ws.onmessage = (event) => this.receive(event.data);
    });
  }

  async subscribe(channel: string, after: number | undefined, listener: ChannelListener): Promise<void> {
    // Registered before the frame goes out: `subscribed` and the first messages follow in one burst.
    this.listeners.set(channel, listener);
    try {
      // `subscribed` is handled as its frame arrives: the channel's first messages may be in the same read.
      await this.request('subscribe', after === undefined ? { channel } : { channel, after }, (reply) => {
        const data = reply.data ?? {};
        listener.subscribed(Number(data.lastSeq), data.truncated === true);
      });
    } catch (err) {
      if (this.listeners.get(channel) === listener) this.listeners.delete(channel);
      throw err;
    }
  }

  unsubscribe(channel: string): void {
    this.listeners.delete(channel);
    if (!this.ended) this.request('unsubscribe', { channel }).catch(() => undefined);
  }

  async publish(channel: string, data: unknown, idempotencyKey: string): Promise<PublishAck> {
    const reply = await this.request('publish', { channel, data, idempotencyKey });
    const ack = reply.data as { channel: string; seq: number; id: string; duplicate?: boolean };
    return { channel: ack.channel, seq: ack.seq, id: ack.id, duplicate: ack.duplicate === true };
  }

  close(): void {
    this.ended = true;
    this.shutdown(new SquallError('closed', 'transport closed'));
  }

  private request(
    event: string,
    data: Record<string, unknown>,
    onReply?: (frame: Frame) => void,
  ): Promise<Frame> {
    if (this.ended || this.ws?.readyState !== OPEN) {
      return Promise.reject(new SquallError('disconnected', 'WebSocket is not open'));
    }
    const ref = String(++this.refs);
    return new Promise<Frame>((resolve, reject) => {
      this.pending.set(ref, { onReply, resolve, reject });
      try {
        this.ws!.send(JSON.stringify({ event, data, ref }));
      } catch (err) {
        this.pending.delete(ref);
        reject(new SquallError('disconnected', 'WebSocket send failed', { cause: err }));
      }
    });
  }

  private receive(raw: unknown): void {
    if (this.ended) return;
    let frame: Frame;
    try {
      frame = JSON.parse(typeof raw === 'string' ? raw : String(raw)) as Frame;
    } catch {
      return;
    }
    if (frame.event === 'message') {
      const message = frame.data as unknown as Message;
      this.listeners.get(message.channel)?.message(message);
      return;
    }
    if (frame.event === 'token_expiring') {
      void this.refreshToken();
      return;
    }
    if (frame.event === 'unsubscribed' && frame.ref === undefined) {
      // A refresh gave a token that may not read this channel: the server ended the subscription.
      const channel = String(frame.data?.channel);
      const listener = this.listeners.get(channel);
      this.listeners.delete(channel);
      listener?.revoked(new SquallError('forbidden', `the refreshed token may not read channel ${channel}`));
      return;
    }
    const waiting = frame.ref === undefined ? undefined : this.pending.get(frame.ref);
    if (!waiting) return;
    this.pending.delete(frame.ref!);
    if (frame.event === 'error') {
      waiting.reject(SquallError.fromFrame(frame.data ?? {}));
      return;
    }
    waiting.onReply?.(frame);
    waiting.resolve(frame);
  }

  /**
   * `token_expiring`: a fresh token from the `token` function goes out as
   * `refresh`, so the connection outlives its token. With a fixed token (or
   * none new) there is nothing to send: the server closes with 4001 at `exp`
   * and the client reconnects.
   */
  private async refreshToken(): Promise<void> {
    try {
      const token = await this.ctx.freshToken();
      if (!token || token === this.ctx.token || this.ended) return;
      await this.request('refresh', { token });
      this.ctx.token = token;
    } catch (err) {
      if (this.ended) return;
      this.ctx.onTokenError(
        err instanceof SquallError ? err : new SquallError('unauthorized', String(err), { cause: err }),
      );
    }
  }

  /**
   * The server pings us, but a browser cannot see those: an application-level
   * `ping` tells us the connection still carries frames. A dead path (a
   * laptop lid, a NAT that forgot us) otherwise looks open for minutes.
   */
  private startPings(): void {
    const { pingIntervalMs, pongTimeoutMs } = this.ctx.timeouts;
    this.pingTimer = setInterval(() => {
      const timeout = setTimeout(() => this.end({ reason: 'no pong from the server' }), pongTimeoutMs);
      this.request('ping', {}).then(
        () => clearTimeout(timeout),
        () => clearTimeout(timeout),
      );
    }, pingIntervalMs);
  }

  /** The connection failed: tell the client once, and fail whatever waited for a reply. */
  private end(info: { reason: string; code?: number }): void {
    if (this.ended) return;
    this.ended = true;
    this.shutdown(new SquallError('disconnected', `connection lost: ${info.reason}`));
    this.ctx.onClose(info);
  }

  private shutdown(error: SquallError): void {
    clearInterval(this.pingTimer);
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    this.listeners.clear();
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Closing a socket that is still connecting reports an error in some implementations (`ws`); nobody needs it.
    ws.onerror = () => undefined;
    if (ws.readyState <= OPEN) {
      try {
        ws.close(1000);
      } catch {
        // Closing a socket that is still connecting throws in some implementations: it is dropped anyway.
      }
    }
  }
}
