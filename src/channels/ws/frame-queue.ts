import { ReadBudget } from './read-budget.js';

/** Frames, and bytes, read but not yet served on one connection before reading pauses. */
export const MAX_PENDING_FRAMES = 64;
export const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * One connection's incoming frames, served one at a time in arrival order:
 * replies and error frames go back in the order their frames came, so a
 * client can pipeline and a `ping` is a barrier. A client that sends faster
 * than it is served stops being read (TCP backpressure) instead of queueing
 * frames in memory without bound.
 *
 * Deliberately plain (an array and a flag): one of these lives per open
 * connection, and an RxJS pipeline per connection cost several KiB each.
 */
export class FrameQueue {
  private readonly pending: Buffer[] = [];
  private readonly budget: ReadBudget;
  private running = false;
  private closed = false;

  constructor(
    socket: { pause(): void; resume(): void },
    private readonly serve: (frame: Buffer) => Promise<void>,
  ) {
    this.budget = new ReadBudget(MAX_PENDING_FRAMES, MAX_PENDING_BYTES, socket);
  }

  push(frame: Buffer): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.budget.read(frame.length);
    if (!this.running) void this.run();
  }

  /** The connection closed: what is still queued is dropped. */
  close(): void {
    this.closed = true;
    this.pending.length = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    while (!this.closed && this.pending.length > 0) {
      const frame = this.pending.shift()!;
      try {
        await this.serve(frame);
      } finally {
        this.budget.served(frame.length);
      }
    }
    this.running = false;
  }
}
