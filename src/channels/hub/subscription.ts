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

  /** From history, during catch-up. */
  replay(envelope: Envelope): void {
    if (this.active && envelope.seq > this.cursor) this.send(envelope);
  }

  /** Ends catch-up: everything held is delivered, then messages flow through. */
  goLive(): void {
    const held = this.backlog ?? [];
    this.backlog = null;
    for (const envelope of held) this.push(envelope);
  }

  private send(envelope: Envelope): void {
    this.cursor = envelope.seq;
    this.subscriber.deliver(envelope);
  }
}
