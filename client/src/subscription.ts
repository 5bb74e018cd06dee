import { Emitter } from './emitter.js';
import { SquallError } from './errors.js';
import type { Message, SubscriptionEvents } from './types.js';

/** What the client does with a message that arrives at a subscription whose cursor is `last`. */
export type Verdict = 'deliver' | 'duplicate' | 'gap';

/**
 * The exactly-once rule. Squall delivers a channel in seq order without gaps,
 * and a resume asks for `after = last`, so the next message is `last + 1`.
 * Anything at or below `last` was already delivered (a resume overlapping what
 * arrived before the drop) and is dropped; a jump ahead can only mean that
 * retention removed the messages in between.
 */
export function classify(last: number | undefined, seq: number): Verdict {
  if (last === undefined || seq === last + 1) return 'deliver';
  return seq <= last ? 'duplicate' : 'gap';
}

/**
 * The cursor to resume from once the server answered a subscribe: the `after`
 * asked for, except that an `after` beyond the channel's end (a cursor from
 * before a database reset) counts as the end, as the server treats it, so the
 * next message is not taken for a duplicate. Without `after` the subscription
 * starts at the end.
 */
export function cursorAfterSubscribe(after: number | undefined, lastSeq: number): number {
  return after === undefined ? lastSeq : Math.min(after, lastSeq);
}

export interface SubscribeOptions {
  /**
   * Start after this seq: `0` replays the retained history, `n` resumes after
   * message `n`. Left out: only messages published after the subscribe.
   */
  after?: number;
}

export type MessageHandler<T = unknown> = (message: Message<T>) => void;

/** A channel subscription; it resumes by itself after every reconnect. */
export class Subscription<T = unknown> extends Emitter<SubscriptionEvents> {
  /** Resolves once the server first confirmed the subscription; rejects if it refused it. */
  readonly ready: Promise<void>;
  private last: number | undefined;
  private requested: number | undefined;
  /** The server already said this resume is truncated: the gap at the next message is that one. */
  private gapAnnounced = false;
  private settle!: { resolve: () => void; reject: (err: SquallError) => void };
  private active = true;

  /** @internal Created by `SquallClient.subscribe`. */
  constructor(
    readonly channel: string,
    options: SubscribeOptions,
    private readonly handler: MessageHandler<T>,
    private readonly hooks: {
      truncated: (event: SubscriptionEvents['truncated']) => void;
      callbackError: (error: unknown) => void;
      unsubscribe: (sub: Subscription<T>) => void;
    },
  ) {
    super();
    this.last = options.after;
    this.ready = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // A caller that never awaits `ready` should not get an unhandled rejection; `error` reports it too.
    this.ready.catch(() => undefined);
  }

  /** The seq of the last message handed to the callback (or the start cursor before any). */
  get lastSeq(): number | undefined {
    return this.last;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Stops the subscription; no message is delivered after this returns. */
  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.hooks.unsubscribe(this);
    // No effect once confirmed; before that, whoever awaits `ready` must not wait forever.
    this.settle.reject(new SquallError('closed', 'unsubscribed before the server confirmed'));
  }

  /** @internal The `after` to (re)subscribe with. */
  resumeFrom(): number | undefined {
    this.requested = this.last;
    return this.last;
  }

  /** @internal The server confirmed a (re)subscribe. */
  subscribed(lastSeq: number, truncated: boolean): void {
    this.last = cursorAfterSubscribe(this.requested, lastSeq);
    this.gapAnnounced = false;
    if (truncated) {
      this.announceTruncation();
      this.gapAnnounced = true;
    }
    this.settle.resolve();
  }

  /** @internal The server said (long poll: in a page) that retention removed messages after the cursor. */
  truncated(): void {
    this.announceTruncation();
    this.gapAnnounced = true;
  }

  private announceTruncation(firstSeq?: number): void {
    const event = { channel: this.channel, after: this.last ?? 0, firstSeq };
    this.emit('truncated', event);
    this.hooks.truncated(event);
  }

  /** @internal The subscription ended for good: the server refused it, or the client was closed. */
  failed(error: SquallError): void {
    this.active = false;
    this.emit('error', { error });
    this.settle.reject(error);
  }

  /** @internal A message for this channel arrived. */
  deliver(message: Message): void {
    if (!this.active) return;
    const verdict = classify(this.last, message.seq);
    if (verdict === 'duplicate') return;
    if (verdict === 'gap' && !this.gapAnnounced) this.announceTruncation(message.seq);
    this.gapAnnounced = false;
    this.last = message.seq;
    try {
      this.handler(message as Message<T>);
    } catch (err) {
      // The message counts as delivered: re-delivering it would break "exactly once" for the others.
      this.hooks.callbackError(err);
    }
  }
}
