import { Logger } from '@nestjs/common';
import type { Broker } from '../broker/broker.js';
import { Envelope } from '../envelope.js';
import type { Subscriber } from './subscriber.js';
import { RecentWindow } from './recent-window.js';
import { Subscription } from './subscription.js';
import { backoffMs, sleep } from '../../lib/backoff.js';

/** What the hub reads from Postgres (MessageStore implements it). */
export interface HistorySource {
  history(channel: string, after: number, limit: number): Promise<Envelope[]>;
  lastSeq(channel: string): Promise<number>;
  lastSeqs(channels: string[]): Promise<Map<string, number>>;
  firstRetainedSeq(channel: string): Promise<number | null>;
}

export interface HubStats {
  onGap?(channel: string): void;
  onDeliver?(count: number, envelope: Envelope): void;
  onSkip?(channel: string, from: number, to: number): void;
}

export interface HubOptions {
  /** How long a channel stays followed after its last local subscriber leaves (0: not at all). */
  lingerMs?: number;
  /** Per channel: the recent messages kept to answer resumes and polls without Postgres. */
  recentMaxMessages?: number;
  recentMaxBytes?: number;
}

export interface SubscribeResult {
  subscription: Subscription;
  /**
   * The channel's last seq as of the join: this instance's position, or for
   * an `after` ahead of it, `min(after, Postgres's last seq)`. Never below
   * what the client already has, so `after = lastSeq` never goes backwards.
   */
  lastSeq: number;
  /** True when messages after `after` were already removed by retention. */
  truncated: boolean;
}

const PAGE = 1000;

/**
 * A broker payload that is not a message: "this channel may have commits
 * nobody announced, read Postgres". Sent after a publish whose outcome is
 * unknown (see MessageStore.onOutcomeUnknown).
 */
export const RESYNC_HINT = '{"resync":true}';

/** The hub's per-channel state: where the channel's ordered stream stands on this instance. */
class ChannelStream {
  /** The next seq to fan out; 0 until the stream has read its starting position. */
  nextSeq = 0;
  readonly subs = new Set<Subscription>();
  /** Messages that arrived ahead of `nextSeq` (or before the stream opened), by seq. */
  readonly pending = new Map<number, Envelope>();
  refs = 0;
  filling = false;
  /** A fill was asked for while one ran: run another pass, its read may predate the news. */
  refill = false;
  /** The head Postgres had at the last sweep that found this stream behind (0: it was not). */
  lagHead = 0;
  closed = false;
  ready!: Promise<void>;
  /** Set while the stream outlives its last subscriber (see HubOptions.lingerMs). */
  linger?: NodeJS.Timeout;
  readonly recent: RecentWindow;

  constructor(
    readonly name: string,
    options: HubOptions,
  ) {
    this.recent = new RecentWindow(options.recentMaxMessages ?? 0, options.recentMaxBytes ?? 0);
  }
}

/**
 * One per instance, serving WebSocket, SSE and long-poll subscribers alike.
 *
 * Ordering: per channel (not per subscriber) the hub keeps the next seq it
 * expects. A message from the broker that is ahead of it is held and the
 * missing ones are read from Postgres; a seq can be missing there only if
 * retention removed it, because seqs commit in order (see MessageStore).
 *
 * Resume: a subscriber joins the live stream first (held in a backlog), then
 * history up to its join point is replayed, then the backlog is merged; the
 * subscription's cursor drops duplicates. See {@link Subscription}.
 */
export class Hub {
  private readonly logger = new Logger('Hub');
  private readonly streams = new Map<string, ChannelStream>();
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: HistorySource,
    private readonly broker: Broker,
    private readonly stats: HubStats = {},
    private readonly options: HubOptions = {},
  ) {
    broker.onMessage((channel, json) => {
      if (json === RESYNC_HINT) {
        this.hint(channel);
        return;
      }
      let envelope: Envelope;
      try {
        envelope = Envelope.fromJson(json);
      } catch {
        this.logger.warn({ msg: 'dropped a malformed broker message', channel });
        return;
      }
      this.ingest(envelope);
    });
    broker.onResync(() => void this.resync());
  }

  /**
   * Periodic resync: a safety net for a broker message lost without a
   * reconnect. A stream behind Postgres is filled only if it is still short
   * of the head seen one sweep earlier, so messages merely in flight through
   * the broker cost no history read.
   */
  startSweeping(intervalMs: number): void {
    this.sweepTimer = setInterval(() => void this.resync({ onlyLagging: true }), intervalMs);
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    for (const stream of this.streams.values()) clearTimeout(stream.linger);
  }

  get channelCount(): number {
    return this.streams.size;
  }

  get subscriberCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.subs.size;
    return n;
  }

  /**
   * Messages after `after` (at most `limit`) from the channel's recent
   * window, when this instance follows the channel and still holds all of
   * them; undefined otherwise (ask Postgres).
   */
  recentAfter(channel: string, after: number, limit: number): Envelope[] | undefined {
    const stream = this.streams.get(channel);
    if (!stream || stream.closed || stream.nextSeq === 0) return undefined;
    return stream.recent.after(after, limit);
  }

  /** The channel's last seq as this instance knows it, when it follows the channel. */
  knownLastSeq(channel: string): number | undefined {
    const stream = this.streams.get(channel);
    return stream && stream.nextSeq > 0 ? stream.nextSeq - 1 : undefined;
  }

  /**
   * Joins `channel`. Nothing is delivered until the caller calls {@link start},
   * so it can first answer the subscribe. Without `after` the subscription
   * starts at the live position; with it, history after `after` comes first.
   */
  async subscribe(channel: string, subscriber: Subscriber, after?: number): Promise<SubscribeResult> {
    let stream = this.streams.get(channel);
    if (!stream) {
      stream = new ChannelStream(channel, this.options);
      this.streams.set(channel, stream);
      stream.ready = this.open(stream);
    }
    stream.refs++;
    clearTimeout(stream.linger);
    stream.linger = undefined;
    let subscription: Subscription | undefined;
    try {
      await stream.ready;
      // Join the live stream in the same tick as reading its position, so no
      // message can pass between the two. The cursor starts at that position
      // (never ahead of it): a live message that arrives while we find out
      // where `after` really stands is then held, not judged against a cursor
      // that may still be moved back.
      const position = stream.nextSeq - 1;
      subscription = new Subscription(channel, subscriber, position, position);
      stream.subs.add(subscription);
      let lastSeq = position;
      let truncated = false;
      if (after !== undefined && after > position) {
        // A cursor past this instance's position is either ahead of a lagging
        // hub (its messages are on their way) or past anything ever published
        // (a bogus cursor): only Postgres can tell. A cursor beyond Postgres's
        // head counts as that head, so the client gets what comes next
        // instead of waiting for a seq that may never be written.
        const head = await this.store.lastSeq(channel);
        subscription.cursor = Math.max(position, Math.min(after, head));
        lastSeq = subscription.cursor;
        // This instance is behind Postgres: fill now rather than at the next
        // publish or sweep, so a client resuming here is not kept waiting.
        if (head >= stream.nextSeq) this.fill(stream);
      } else if (after !== undefined && after < position) {
        subscription.cursor = after;
        const first = await this.store.firstRetainedSeq(channel);
        truncated = first === null || first > after + 1;
      }
      return { subscription, lastSeq, truncated };
    } catch (err) {
      if (subscription) this.unsubscribe(subscription);
      else this.release(stream);
      throw err;
    }
  }

  /**
   * Replays history from the subscription's cursor to its join point, then
   * lets live messages through. Resolves when the subscription is live.
   * `pageSize` bounds each history read (long polls ask for their limit).
   */
  async start(subscription: Subscription, pageSize = PAGE): Promise<void> {
    let attempt = 0;
    while (subscription.active && subscription.cursor < subscription.joinedAt) {
      let page: Envelope[];
      try {
        // What this instance delivered a moment ago is still in memory:
        // resumes a little behind the head cost no query.
        page =
          this.streams
            .get(subscription.channel)
            ?.recent.after(subscription.cursor, pageSize, subscription.joinedAt) ??
          (await this.store.history(subscription.channel, subscription.cursor, pageSize));
        attempt = 0;
      } catch (err) {
        // Postgres blipped: keep the subscription held and try again.
        this.logger.warn({
          msg: 'history read failed',
          channel: subscription.channel,
          err: (err as Error).message,
        });
        await sleep(backoffMs(attempt++, 100, 2000));
        continue;
      }
      // Paced by the transport: a replay goes out as fast as the client reads
      // it, never piled into its send buffer (where it would pass for a slow
      // consumer) however large the page.
      for (const envelope of page) {
        const full = subscription.replay(envelope);
        if (full) await full;
      }
      if (page.length < pageSize) break;
    }
    await subscription.goLive();
  }

  unsubscribe(subscription: Subscription): void {
    if (subscription.cancelled) return;
    subscription.cancelled = true;
    const stream = this.streams.get(subscription.channel);
    if (stream?.subs.delete(subscription)) this.release(stream);
  }

  /** A message from this instance's own publish or from the broker; duplicates are harmless. */
  ingest(envelope: Envelope): void {
    const stream = this.streams.get(envelope.channel);
    if (!stream || stream.closed) return;
    if (stream.nextSeq === 0) {
      stream.pending.set(envelope.seq, envelope);
      return;
    }
    if (envelope.seq < stream.nextSeq) return;
    stream.pending.set(envelope.seq, envelope);
    this.advance(stream);
    if (stream.pending.size > 0) this.fill(stream);
  }

  /** Reads `channel` from Postgres now, if this instance follows it: something may have been missed. */
  hint(channel: string): void {
    const stream = this.streams.get(channel);
    if (stream && stream.nextSeq > 0 && !stream.closed) this.fill(stream);
  }

  /** Compares every followed channel with Postgres and fills what this instance missed. */
  async resync({ onlyLagging = false } = {}): Promise<void> {
    const open = [...this.streams.values()].filter((s) => s.nextSeq > 0 && !s.closed);
    if (open.length === 0) return;
    let heads: Map<string, number>;
    try {
      heads = await this.store.lastSeqs(open.map((s) => s.name));
    } catch (err) {
      this.logger.warn({ msg: 'resync failed', err: (err as Error).message });
      return;
    }
    for (const stream of open) {
      const head = heads.get(stream.name) ?? 0;
      if (head < stream.nextSeq) {
        stream.lagHead = 0;
      } else if (!onlyLagging || (stream.lagHead > 0 && stream.nextSeq <= stream.lagHead)) {
        stream.lagHead = 0;
        this.fill(stream);
      } else {
        stream.lagHead = head;
      }
    }
  }

  private async open(stream: ChannelStream): Promise<void> {
    try {
      // Subscribe before reading the position: anything committed after the
      // read is then certain to arrive through the broker (or a gap fill).
      await this.broker.subscribe(stream.name);
      const last = await this.store.lastSeq(stream.name);
      stream.nextSeq = last + 1;
      for (const seq of stream.pending.keys()) if (seq <= last) stream.pending.delete(seq);
      this.advance(stream);
      if (stream.pending.size > 0) this.fill(stream);
    } catch (err) {
      if (this.streams.get(stream.name) === stream) this.streams.delete(stream.name);
      stream.closed = true;
      void this.broker.unsubscribe(stream.name).catch(() => undefined);
      throw err;
    }
  }

  /** Fans out every contiguous pending message starting at `nextSeq`. */
  private advance(stream: ChannelStream): void {
    for (;;) {
      const envelope = stream.pending.get(stream.nextSeq);
      if (!envelope) return;
      stream.pending.delete(stream.nextSeq);
      stream.nextSeq++;
      stream.recent.push(envelope);
      for (const sub of stream.subs) sub.push(envelope);
      this.stats.onDeliver?.(stream.subs.size, envelope);
    }
  }

  /**
   * Reads from Postgres whatever lies between `nextSeq` and the newest known
   * message. Single-flight per channel; a request during a running fill makes
   * it take one more pass, since its read may predate what prompted the request.
   */
  private fill(stream: ChannelStream): void {
    if (stream.closed) return;
    if (stream.filling) {
      stream.refill = true;
      return;
    }
    stream.filling = true;
    this.stats.onGap?.(stream.name);
    void (async () => {
      let attempt = 0;
      let emptyReads = 0;
      try {
        while (!stream.closed) {
          stream.refill = false;
          let page: Envelope[];
          try {
            page = await this.store.history(stream.name, stream.nextSeq - 1, PAGE);
          } catch (err) {
            this.logger.warn({ msg: 'gap fill failed', channel: stream.name, err: (err as Error).message });
            await sleep(backoffMs(attempt++, 100, 2000));
            continue;
          }
          attempt = 0;
          const first = page.find((e) => e.seq >= stream.nextSeq);
          if (first && first.seq > stream.nextSeq) {
            // Postgres has nothing between nextSeq and `first`: seqs commit in
            // order, so retention removed them. Skip to the lowest message
            // that exists, in Postgres or held here.
            this.skipTo(stream, Math.min(first.seq, this.lowestPending(stream) ?? first.seq));
          }
          for (const envelope of page)
            if (envelope.seq >= stream.nextSeq) stream.pending.set(envelope.seq, envelope);
          this.advance(stream);
          if (page.length === PAGE || stream.refill) continue;
          if (stream.pending.size === 0) return;
          // Held messages, yet Postgres has nothing at or after nextSeq: a
          // prune removed them after they were published. Retry briefly, then
          // skip to what is held.
          if (page.length > 0) emptyReads = 0;
          else if (++emptyReads > 20) {
            this.skipTo(stream, this.lowestPending(stream)!);
            this.advance(stream);
            if (stream.pending.size === 0) return;
          }
          await sleep(50);
        }
      } finally {
        stream.filling = false;
        if (stream.refill && !stream.closed) this.fill(stream);
      }
    })();
  }

  private lowestPending(stream: ChannelStream): number | undefined {
    let lowest: number | undefined;
    for (const seq of stream.pending.keys()) if (lowest === undefined || seq < lowest) lowest = seq;
    return lowest;
  }

  /** Moves forward (never back) past seqs nobody can have, dropping anything held below. */
  private skipTo(stream: ChannelStream, seq: number): void {
    if (seq <= stream.nextSeq) return;
    this.stats.onSkip?.(stream.name, stream.nextSeq, seq - 1);
    stream.nextSeq = seq;
    stream.recent.clear();
    for (const held of stream.pending.keys()) if (held < seq) stream.pending.delete(held);
  }

  private release(stream: ChannelStream): void {
    // A stream whose open failed already unsubscribed; doing it again could
    // unsubscribe a newer stream on the same channel.
    if (--stream.refs > 0 || stream.closed) return;
    const lingerMs = this.options.lingerMs ?? 0;
    if (lingerMs > 0 && stream.nextSeq > 0) {
      // A long poll leaves as soon as it is answered and its client comes
      // right back: keep following the channel for a while, so the re-poll
      // finds the head (and recent messages) here instead of in Postgres,
      // and Redis sees no UNSUBSCRIBE/SUBSCRIBE churn.
      stream.linger = setTimeout(() => this.close(stream), lingerMs);
      stream.linger.unref();
      return;
    }
    this.close(stream);
  }

  private close(stream: ChannelStream): void {
    if (stream.refs > 0 || stream.closed) return;
    if (this.streams.get(stream.name) === stream) this.streams.delete(stream.name);
    stream.closed = true;
    void this.broker.unsubscribe(stream.name).catch((err: Error) => {
      this.logger.warn({ msg: 'broker unsubscribe failed', channel: stream.name, err: err.message });
    });
  }
}
