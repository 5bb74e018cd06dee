import type { Msg } from './ws-client.js';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Reads a Server-Sent Events response with fetch and parses it as a browser would. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  ended: Promise<void>;
  private waiters: Array<() => boolean> = [];
  private readonly abort = new AbortController();

  private constructor(ended: Promise<void>) {
    this.ended = ended;
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    let ready!: () => void;
    const opened = new Promise<void>((r) => (ready = r));
    const client: SseClient = new SseClient(Promise.resolve());
    const run = async () => {
      const res = await fetch(url, {
        headers: { accept: 'text/event-stream', ...headers },
        signal: client.abort.signal,
      });
      client.status = res.status;
      ready();
      if (!res.body) return;
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let idx;
          while ((idx = buffer.indexOf('\n\n')) !== -1) {
            client.parseBlock(buffer.slice(0, idx));
            buffer = buffer.slice(idx + 2);
          }
        }
      } catch {
        /* aborted */
      }
    };
    client.ended = run().finally(() => client.poke());
    await opened;
    return client;
  }

  messages(): Msg[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as Msg);
  }

  waitForMessages(count: number, timeoutMs = 30_000): Promise<Msg[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.events.filter((e) => e.event === 'message').length >= count) {
          clearTimeout(timer);
          resolve(this.messages());
          return true;
        }
        return false;
      };
      const timer = setTimeout(
        () =>
          reject(new Error(`SSE: timed out waiting for ${count} messages, have ${this.messages().length}`)),
        timeoutMs,
      );
      if (!check()) this.waiters.push(check);
    });
  }

  close(): void {
    this.abort.abort();
  }

  private parseBlock(block: string): void {
    const event: SseEvent = { event: 'message', data: '' };
    const data: string[] = [];
    let hasField = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const i = line.indexOf(':');
      const field = i === -1 ? line : line.slice(0, i);
      const value = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') event.event = value;
      else if (field === 'id') event.id = value;
      else continue;
      hasField = true;
    }
    if (!hasField || data.length === 0) return;
    event.data = data.join('\n');
    this.events.push(event);
    this.poke();
  }

  private poke(): void {
    this.waiters = this.waiters.filter((w) => !w());
  }
}
