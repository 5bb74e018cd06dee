import { ReadBudget } from './read-budget.js';

/** Frames, and bytes, read but not yet served on one connection before reading pauses. */
export const MAX_PENDING_FRAMES = 64;
export const MAX_PENDING_BYTES = 1024 * 1024;

/** Serves the frames of every queue: one object for all connections, not a closure each. */
export interface FrameServer<S, H> {
  serve(socket: S, frame: Buffer, handlers: H): Promise<void>;
}

/**
 * One connection's incoming frames, served one at a time in arrival order:
 * replies and error frames go back in the order their frames came, so a
 * client can pipeline and a `ping` is a barrier. A client that sends faster
 * than it is served stops being read (TCP backpressure) instead of queueing
 * frames in memory without bound.
 *
 * Deliberately plain (an array and a flag, and it is its own ReadBudget): one
 * of these lives per open connection, and an RxJS pipeline per connection
 * cost several KiB each. `handlers` is whatever the server needs per
 * connection to serve a frame.
 */
export class FrameQueue<S extends { pause(): void; resume(): void }, H> extends ReadBudget {
  private pending: Buffer[] = [];
  private running = false;
  private closed = false;
  /** Nest's disconnect callback for this connection, called from the one shared 'close' listener. */
  onClose?: (...args: unknown[]) => void;

  constructor(
    readonly socket: S,
    private readonly server: FrameServer<S, H>,
    private readonly handlers: H,
  ) {
    super(MAX_PENDING_FRAMES, MAX_PENDING_BYTES, socket);
  }

  push(frame: Buffer): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.read(frame.length);
    if (!this.running) void this.run();
  }

  /** The connection closed: what is still queued is dropped. */
  close(): void {
    this.closed = true;
    this.pending = [];
  }

  private async run(): Promise<void> {
    this.running = true;
    while (!this.closed && this.pending.length > 0) {
      const frame = this.pending.shift()!;
      try {
        await this.server.serve(this.socket, frame, this.handlers);
      } finally {
        this.served(frame.length);
      }
    }
    this.running = false;
    // An idle connection should not keep the capacity its last burst grew the array to.
    if (this.pending.length === 0) this.pending = [];
  }
}
