import type { Envelope } from '../envelope.js';
import type { Subscriber } from './subscriber.js';

/** Messages held for a subscription still reading history, before it is dropped as too slow. */
export const MAX_BACKLOG = 10_000;

/**
 * One subscriber on one channel. It starts "held": live messages the hub
 * fans out are kept in a backlog until the owner has answered the subscribe
 * and history up to the live position has been delivered; then the backlog is
 * merged in. `cursor` (the last seq delivered) makes the merge exactly-once.
 */
export class Subscription {
  private backlog: Envelope[] | null = [];
  /** Set by the hub on unsubscribe. */
  cancelled = false;
  /** Fell too far behind: delivers nothing more (a later message would leave a gap). */
  overflowed = false;

  constructor(
    readonly channel: string,
    private readonly subscriber: Subscriber,
    public cursor: number,
    /** The last seq the hub had delivered when this subscription joined. */
    readonly joinedAt: number,
  ) {}

  get live(): boolean {
    return this.backlog === null;
  }

  /** Still delivering: neither unsubscribed nor overflowed. */
  get active(): boolean {
    return !this.cancelled && !this.overflowed;
  }

  /** From the hub's live stream, in seq order. */
  push(envelope: Envelope): void {
    if (!this.active || envelope.seq <= this.cursor) return;
    if (this.backlog) {
      this.backlog.push(envelope);
      if (this.backlog.length > MAX_BACKLOG) {
        this.overflowed = true;
        this.backlog = [];
        this.subscriber.overflow?.();
      }
      return;
    }
    this.send(envelope);
  }

  /**
   * From history, during catch-up. Returns a promise when the transport
   * asks the replay to wait before the next message.
   */
  replay(envelope: Envelope): Promise<void> | undefined {
    if (!this.active || envelope.seq <= this.cursor) return undefined;
    this.send(envelope);
    return this.subscriber.writable?.();
  }

  /**
   * Ends catch-up: everything held is delivered, paced like the replay (live
   * messages arriving meanwhile join the end of the backlog), then messages
   * flow through.
   */
  async goLive(): Promise<void> {
    while (this.backlog && this.backlog.length > 0 && this.active) {
      const held = this.backlog;
      this.backlog = [];
      for (const envelope of held) {
        const full = this.replay(envelope);
        if (full) await full;
      }
    }
    this.backlog = null;
  }

  private send(envelope: Envelope): void {
    this.cursor = envelope.seq;
    this.subscriber.deliver(envelope);
  }
}
