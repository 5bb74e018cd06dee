import { type ChannelMessage, Envelope } from '../../envelope.js';
import type { HistorySource } from '../hub.js';

// For tests only: never imported by production code.

export type HistoryMethod = 'history' | 'lastSeq' | 'lastSeqs' | 'firstRetainedSeq';

/** One read the hub made, as passed to {@link MemoryHistory.onRead}. */
export interface HistoryRead {
  method: HistoryMethod;
  /** The channel read (for `lastSeqs`, the first one asked for). */
  channel: string;
  channels?: string[];
  after?: number;
  limit?: number;
}

interface ChannelRows {
  lastSeq: number;
  /** Retained messages, ascending by seq. */
  messages: ChannelMessage[];
}

const EPOCH = Date.UTC(2030, 0, 1);

/**
 * An in-memory stand-in for {@link MessageStore} (Postgres) as the hub reads
 * it: seqs per channel start at 1 and go up by 1; `history` returns `seq >
 * after` ascending, at most `limit`; `lastSeq` is 0 for a channel never
 * written; `lastSeqs` leaves such channels out; retention deletes the oldest
 * messages but never the seq counter.
 *
 * Every read is asynchronous like a query: it takes its snapshot, then awaits
 * {@link onRead} before answering, so a test can publish (and deliver, or
 * lose) more messages while the answer is "on the wire", the way a commit can
 * land between a Postgres read and the hub acting on it.
 */
export class MemoryHistory implements HistorySource {
  private readonly channels = new Map<string, ChannelRows>();
  private readonly failures = new Map<HistoryMethod, Error[]>();
  /** Every read, in call order. */
  readonly reads: HistoryRead[] = [];
  /** Runs inside every read, after its snapshot and before it answers. */
  onRead?: (read: HistoryRead) => void | Promise<void>;

  /** Commits a message: assigns the channel's next seq. Nothing is told about it. */
  append(channel: string, data?: unknown): ChannelMessage {
    const rows = this.rows(channel);
    const seq = ++rows.lastSeq;
    const message: ChannelMessage = {
      channel,
      seq,
      id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
      data: data === undefined ? { n: seq } : data,
      publishedAt: new Date(EPOCH + seq).toISOString(),
    };
    rows.messages.push(message);
    return message;
  }

  head(channel: string): number {
    return this.channels.get(channel)?.lastSeq ?? 0;
  }

  /** Retention: deletes every message with `seq <= through` (the counter stays). */
  pruneThrough(channel: string, through: number): void {
    const rows = this.channels.get(channel);
    if (rows) rows.messages = rows.messages.filter((m) => m.seq > through);
  }

  /** The next `times` calls of `method` reject with `error`. */
  failNext(method: HistoryMethod, times = 1, error = new Error(`${method}: connection terminated`)): void {
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.failures.set(method, queue);
  }

  readsOf(method: HistoryMethod): HistoryRead[] {
    return this.reads.filter((r) => r.method === method);
  }

  async history(channel: string, after: number, limit: number): Promise<Envelope[]> {
    const read: HistoryRead = { method: 'history', channel, after, limit };
    await this.begin(read);
    const rows = (this.channels.get(channel)?.messages ?? [])
      .filter((m) => m.seq > after)
      .slice(0, limit)
      .map((m) => Envelope.fromRow(m.channel, m.seq, m.id, JSON.stringify(m.data), m.publishedAt));
    await this.onRead?.(read);
    return rows;
  }

  async lastSeq(channel: string): Promise<number> {
    const read: HistoryRead = { method: 'lastSeq', channel };
    await this.begin(read);
    const last = this.head(channel);
    await this.onRead?.(read);
    return last;
  }

  async lastSeqs(channels: string[]): Promise<Map<string, number>> {
    const read: HistoryRead = { method: 'lastSeqs', channel: channels[0] ?? '', channels: [...channels] };
    await this.begin(read);
    const heads = new Map<string, number>();
    for (const channel of channels) if (this.channels.has(channel)) heads.set(channel, this.head(channel));
    await this.onRead?.(read);
    return heads;
  }

  async firstRetainedSeq(channel: string): Promise<number | null> {
    const read: HistoryRead = { method: 'firstRetainedSeq', channel };
    await this.begin(read);
    const first = this.channels.get(channel)?.messages[0]?.seq ?? null;
    await this.onRead?.(read);
    return first;
  }

  /** The query leaves: the caller's synchronous code runs on first. Then it may fail. */
  private async begin(read: HistoryRead): Promise<void> {
    this.reads.push(read);
    await Promise.resolve();
    const error = this.failures.get(read.method)?.shift();
    if (error) throw error;
  }

  private rows(channel: string): ChannelRows {
    let rows = this.channels.get(channel);
    if (!rows) {
      rows = { lastSeq: 0, messages: [] };
      this.channels.set(channel, rows);
    }
    return rows;
  }
}
