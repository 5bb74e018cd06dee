import { once } from 'node:events';
import WebSocket from 'ws';

export interface Frame {
  event: string;
  data: Record<string, unknown>;
  ref?: string;
}

export interface Msg {
  channel: string;
  seq: number;
  id: string;
  data: unknown;
  publishedAt: string;
}

type Waiter = { check: () => boolean; resolve: () => void };

/**
 * A WebSocket client that speaks Squall's frame contract and lets a test
 * await what it expects (a reply to a ref, N messages on a channel, the close)
 * instead of sleeping.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  /** What the test sent, as given to send() (a string when sent raw), for contract checks. */
  readonly sent: unknown[] = [];
  readonly messages = new Map<string, Msg[]>();
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Waiter[] = [];
  private refs = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      this.frames.push(frame);
      if (frame.event === 'message') {
        const m = frame.data as unknown as Msg;
        const list = this.messages.get(m.channel) ?? [];
        list.push(m);
        this.messages.set(m.channel, list);
      }
      this.poke();
    });
    this.closed = once(socket, 'close').then(([code, reason]) => {
      this.poke();
      return { code: code as number, reason: String(reason) };
    });
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    await once(socket, 'open');
    return client;
  }

  send(frame: unknown): void {
    this.sent.push(frame);
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends `{event, data, ref}` and resolves with the first frame echoing that ref. */
  async request(event: string, data: unknown): Promise<Frame> {
    const ref = `r${++this.refs}`;
    this.send({ event, data, ref });
    return this.until(() => this.frames.find((f) => f.ref === ref), `reply to ${event} (${ref})`);
  }

  async subscribe(channel: string, after?: number): Promise<Frame> {
    const reply = await this.request('subscribe', after === undefined ? { channel } : { channel, after });
    if (reply.event !== 'subscribed') throw new Error(`subscribe failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  received(channel: string): Msg[] {
    return this.messages.get(channel) ?? [];
  }

  /** Resolves once `count` messages have arrived on `channel`. */
  async waitForMessages(channel: string, count: number, timeoutMs = 30_000): Promise<Msg[]> {
    await this.until(
      () => this.received(channel).length >= count,
      `${count} messages on ${channel}`,
      timeoutMs,
    );
    return this.received(channel);
  }

  /** Resolves with the value `probe` returns once truthy; re-checked on every frame. */
  until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = probe();
      if (first) return resolve(first);
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-3))}`),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        check: () => {
          const value = probe();
          if (!value) return false;
          clearTimeout(timer);
          resolve(value);
          return true;
        },
        resolve: () => undefined,
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.socket.close();
  }

  private poke(): void {
    this.waiters = this.waiters.filter((w) => !w.check());
  }
}

/** Asserts `msgs` are exactly seqs from..to, each once, ascending. */
export function seqs(msgs: { seq: number }[]): number[] {
  return msgs.map((m) => m.seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
