import { SquallError } from '../errors.js';
import { linkedAbort } from '../http.js';
import type { Message, PublishAck } from '../types.js';
import type { ChannelListener, Transport, TransportContext } from './transport.js';

/**
 * Server-Sent Events, one stream per channel (`GET /v1/channels/:channel/stream`).
 *
 * Read with fetch streaming rather than `EventSource`: EventSource hides the
 * `: subscribed lastSeq=… truncated=…` comment (so truncation could not be
 * reported and `ready` could not be told), reconnects on its own schedule
 * without a fresh token, and says nothing about why it failed. fetch streaming
 * works in every current browser and in Node 18+, so this needs no injection.
 */
export class SseTransport implements Transport {
  readonly name = 'sse';
  private readonly streams = new Map<string, AbortController>();
  private ended = false;

  constructor(private readonly ctx: TransportContext) {}

  /** Nothing to hold open until the first subscription: each stream is its own request. */
  open(): Promise<void> {
    return Promise.resolve();
  }

  async subscribe(channel: string, after: number | undefined, listener: ChannelListener): Promise<void> {
    if (this.ended) throw new SquallError('disconnected', 'transport closed');
    this.streams.get(channel)?.abort();
    const controller = new AbortController();
    this.streams.set(channel, controller);
    const url = new URL(`${this.ctx.baseUrl}/v1/channels/${encodeURIComponent(channel)}/stream`);
    if (after !== undefined) url.searchParams.set('after', String(after));
    if (this.ctx.token) url.searchParams.set('token', this.ctx.token);

    // Until the `subscribed` comment arrives, a silent server (or a proxy that buffers the stream) is a failure to subscribe.
    const opening = linkedAbort(controller.signal, this.ctx.timeouts.openMs);
    let res: Response;
    try {
      res = await this.ctx.fetch(url.toString(), {
        headers: { accept: 'text/event-stream' },
        signal: opening.signal,
      });
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        throw SquallError.fromHttp(res.status, body, res.headers.get('retry-after'));
      }
    } catch (err) {
      opening.dispose();
      this.forget(channel, controller);
      throw opening.explain(err, url.toString());
    }

    let confirmed!: () => void;
    let refused!: (err: SquallError) => void;
    const subscribed = new Promise<void>((resolve, reject) => ((confirmed = resolve), (refused = reject)));
    const parser = new SseParser({
      comment: (text) => {
        const m = /^ ?subscribed lastSeq=(\d+) truncated=(true|false)/.exec(text);
        if (!m) return;
        opening.dispose();
        listener.subscribed(Number(m[1]), m[2] === 'true');
        confirmed();
      },
      event: (type, data) => {
        if (type === 'message') listener.message(JSON.parse(data) as Message);
      },
    });
    void this.read(res.body, parser, controller, this.ctx.timeouts.sseIdleMs).then((why) => {
      opening.dispose();
      this.forget(channel, controller);
      if (controller.signal.aborted && why !== 'idle') {
        // Our own abort: an unsubscribe or a close.
        refused(new SquallError('closed', 'unsubscribed'));
        return;
      }
      // `timeout` when the `subscribed` comment never came (a buffering proxy: fall back), else `disconnected`.
      const error = opening.explain(new Error(why), url.toString());
      refused(error);
      this.fail(`SSE stream of ${channel} ended: ${error.message}`);
    });
    return subscribed;
  }

  unsubscribe(channel: string): void {
    const controller = this.streams.get(channel);
    this.streams.delete(channel);
    controller?.abort();
  }

  publish(channel: string, data: unknown, idempotencyKey: string): Promise<PublishAck> {
    return this.ctx.httpPublish(channel, data, idempotencyKey);
  }

  close(): void {
    this.ended = true;
    for (const controller of this.streams.values()) controller.abort();
    this.streams.clear();
  }

  /** Reads until the stream ends, fails, is aborted, or stays silent past the heartbeat budget. */
  private async read(
    body: ReadableStream<Uint8Array>,
    parser: SseParser,
    controller: AbortController,
    idleMs: number,
  ): Promise<string> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let idle = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      // The server sends a heartbeat comment every 15 s; silence longer than that means a dead path.
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, idleMs);
    };
    const onAbort = () => reader.cancel().catch(() => undefined);
    controller.signal.addEventListener('abort', onAbort);
    try {
      arm();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return idle ? 'idle' : 'closed by the server';
        arm();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      return idle ? 'idle' : `read failed: ${(err as Error)?.message ?? err}`;
    } finally {
      clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
    }
  }

  private forget(channel: string, controller: AbortController): void {
    if (this.streams.get(channel) === controller) this.streams.delete(channel);
  }

  private fail(reason: string): void {
    if (this.ended) return;
    this.close();
    this.ctx.onClose({ reason });
  }
}

/** The text/event-stream format (WHATWG HTML, "Server-sent events"), events and comments. */
export class SseParser {
  private buffer = '';
  private type = '';
  private data: string[] = [];

  constructor(
    private readonly on: { event(type: string, data: string): void; comment(text: string): void },
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) !== -1) {
      // A lone '\r' at the end may be the first half of '\r\n': wait for the next chunk.
      if (this.buffer[newline] === '\r' && newline === this.buffer.length - 1) return;
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + (this.buffer.startsWith('\r\n', newline) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.on.event(this.type || 'message', this.data.join('\n'));
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) {
      this.on.comment(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    // `id` is the seq, which the message carries too; `retry` is ours to decide.
  }
}
