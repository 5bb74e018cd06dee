import { SquallError } from '../errors.js';
import { httpJson } from '../http.js';
import type { Message, PublishAck } from '../types.js';
import type { ChannelListener, Transport, TransportContext } from './transport.js';

interface Page {
  messages: Message[];
  lastSeq: number;
  truncated?: boolean;
}

/**
 * Long polling, one request loop per channel (`GET /v1/channels/:channel/poll`),
 * for networks that carry neither WebSockets nor streamed responses.
 */
export class LongPollTransport implements Transport {
  readonly name = 'longpoll';
  private readonly loops = new Map<string, AbortController>();
  private ended = false;

  constructor(private readonly ctx: TransportContext) {}

  open(): Promise<void> {
    return Promise.resolve();
  }

  async subscribe(channel: string, after: number | undefined, listener: ChannelListener): Promise<void> {
    if (this.ended) throw new SquallError('disconnected', 'transport closed');
    this.loops.get(channel)?.abort();
    const controller = new AbortController();
    this.loops.set(channel, controller);
    const path = `${this.ctx.baseUrl}/v1/channels/${encodeURIComponent(channel)}`;
    // The channel's head plays the part of WebSocket's `subscribed` reply: where "live only" starts,
    // and the end an `after` from nowhere (beyond it) is clamped to.
    const head = await httpJson<{ lastSeq: number }>(this.ctx.fetch, path, {
      token: this.ctx.token,
      signal: controller.signal,
      timeoutMs: this.ctx.timeouts.openMs,
    }).catch((err: SquallError) => {
      if (this.loops.get(channel) === controller) this.loops.delete(channel);
      throw err;
    });
    listener.subscribed(head.body.lastSeq, false);
    const start = after === undefined ? head.body.lastSeq : Math.min(after, head.body.lastSeq);
    void this.loop(channel, `${path}/poll`, start, listener, controller);
  }

  unsubscribe(channel: string): void {
    this.loops.get(channel)?.abort();
    this.loops.delete(channel);
  }

  publish(channel: string, data: unknown, idempotencyKey: string): Promise<PublishAck> {
    return this.ctx.httpPublish(channel, data, idempotencyKey);
  }

  close(): void {
    this.ended = true;
    for (const controller of this.loops.values()) controller.abort();
    this.loops.clear();
  }

  private async loop(
    channel: string,
    url: string,
    after: number,
    listener: ChannelListener,
    controller: AbortController,
  ): Promise<void> {
    // The server takes 0..60.
    const seconds = Math.min(60, Math.max(0, Math.round(this.ctx.timeouts.pollSeconds)));
    while (!controller.signal.aborted) {
      let page: Page;
      try {
        const query = `?after=${after}&timeout=${seconds}&limit=1000`;
        // The server answers by `timeout` at the latest; a request that outlives it by far hangs on a dead path.
        page = (
          await httpJson<Page>(this.ctx.fetch, url + query, {
            token: this.ctx.token,
            signal: controller.signal,
            timeoutMs: seconds * 1000 + this.ctx.timeouts.openMs,
          })
        ).body;
      } catch (err) {
        if (controller.signal.aborted) return;
        this.fail(`long poll of ${channel} failed: ${(err as Error).message}`);
        return;
      }
      if (controller.signal.aborted) return;
      if (page.truncated) listener.truncated();
      for (const message of page.messages) listener.message(message);
      after = page.lastSeq;
    }
  }

  private fail(reason: string): void {
    if (this.ended) return;
    this.close();
    this.ctx.onClose({ reason });
  }
}
