import type { Logger } from '@nestjs/common';
import type { JobEvents } from '../job-events.js';
import type { JobsStore } from '../jobs.store.js';

/** Progress is written at most once per this many ms per attempt; the latest value wins. */
export const PROGRESS_WINDOW_MS = 50;

/**
 * Coalesces progress writes: at most one UPDATE (with its event, in the same
 * statement) per PROGRESS_WINDOW_MS, counted from the attempt's start, and
 * never two in flight; a value reported meanwhile replaces the one waiting.
 * So a handler reporting in a tight loop costs a statement per window, not
 * per call, and never waits for Postgres; and an attempt that ends within its
 * first window (most short jobs) writes no progress at all: its `active` and
 * final events say all there is (the final one carries the job's progress),
 * and it saves a statement, a `jobs` row version and an event per job. A refused write means the attempt no longer owns
 * the job (cancelled, or taken over): `onLost` fires. Closed once the attempt
 * settles: a value still waiting is dropped (the final event carries the
 * job's state), and a handler that ignores its abort writes nothing more.
 */
export class ProgressWriter {
  private pending?: number;
  private last = 0;
  /** The attempt's start: the first window runs from it (see the class). */
  private lastWriteAt = performance.now();
  private closed = false;
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<void>;

  constructor(
    private readonly id: string,
    private readonly lease: string,
    private readonly deps: { store: Pick<JobsStore, 'progress'>; events: Pick<JobEvents, 'announce'> },
    private readonly logger: Logger,
    private readonly onLost: () => void,
  ) {}

  /** Records `value` soon (see the class); resolves at once, never rejects. */
  write(value: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.pending = Math.min(100, Math.max(0, Math.round(Number.isFinite(value) ? value : 0)));
    this.schedule();
    return Promise.resolve();
  }

  /** Stops accepting writes and resolves once the one in flight, if any, is done. */
  close(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    clearTimeout(this.timer);
    return this.inflight ?? Promise.resolve();
  }

  private schedule(): void {
    if (this.inflight || this.timer || this.pending === undefined || this.closed) return;
    const wait = this.lastWriteAt + PROGRESS_WINDOW_MS - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
      return;
    }
    this.inflight = this.flush().finally(() => {
      this.inflight = undefined;
      this.schedule();
    });
  }

  private async flush(): Promise<void> {
    const value = this.pending!;
    this.pending = undefined;
    if (value === this.last) return;
    this.lastWriteAt = performance.now();
    try {
      const row = await this.deps.store.progress(this.id, this.lease, value);
      if (!row) {
        this.pending = undefined;
        this.closed = true;
        this.onLost();
        return;
      }
      this.last = value;
      this.deps.events.announce(row);
    } catch (err) {
      // Progress is advisory: a failed write never fails the job.
      this.logger.warn({ msg: 'progress not recorded', jobId: this.id, err: (err as Error).message });
    }
  }
}
