import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type Job as BullJob, UnrecoverableError, WaitingError } from 'bullmq';
import { isDatabaseUnavailable } from '../../common/database-errors.js';
import type { JobRow } from '../job.js';
import { JobEvents } from '../job-events.js';
import {
  type AbortKind,
  JobAbortError,
  type JobContext,
  type JobLogger,
  PermanentJobError,
} from '../job-handler.decorator.js';
import type { RegisteredHandler } from '../job-registry.js';
import { isFinal } from '../job-state.js';
import type { AttemptOutcome, JobsMetrics } from '../jobs.metrics.js';
import type { JobsStore } from '../jobs.store.js';
import { validatePayload } from '../payload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries a Postgres write while the database is briefly unreachable (~7 s in all), then gives up. */
export async function withDbRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 6 || !isDatabaseUnavailable(err)) throw err;
      await sleep(Math.min(250 * 2 ** attempt, 2000));
    }
  }
}

/** One attempt in progress in this process. */
export interface Run {
  id: string;
  type: string;
  lease: string;
  abort(kind: AbortKind, message: string): void;
  /** Settles when the processor has finished with the job (row and BullMQ both updated). */
  done: Promise<void>;
}

export interface RunnerDeps {
  store: JobsStore;
  events: JobEvents;
  metrics: JobsMetrics;
  maxResultBytes: number;
  /** True once the worker is shutting down: a job fetched now is handed straight back. */
  stopping: () => boolean;
  track(run: Run): void;
  untrack(run: Run): void;
}

/**
 * Coalesces progress writes: at most one UPDATE + publish in flight, and the
 * latest value is always the one written next. A refused write means the
 * attempt no longer owns the job (cancelled, or taken over): `onLost` fires.
 */
class ProgressWriter {
  private pending?: number;
  private last = 0;
  private seq = 0;
  private inflight?: Promise<void>;

  constructor(
    private readonly row: JobRow,
    private readonly lease: string,
    private readonly deps: RunnerDeps,
    private readonly logger: Logger,
    private readonly onLost: () => void,
  ) {}

  write(value: number): Promise<void> {
    const n = Math.min(100, Math.max(0, Math.round(Number.isFinite(value) ? value : 0)));
    this.pending = n;
    this.inflight ??= this.flush().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  settled(): Promise<void> {
    return this.inflight ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    while (this.pending !== undefined) {
      const value = this.pending;
      this.pending = undefined;
      if (value === this.last) continue;
      try {
        const row = await this.deps.store.progress(this.row.id, this.lease, value);
        if (!row) {
          this.pending = undefined;
          this.onLost();
          return;
        }
        this.last = value;
        await this.deps.events.publish('progress', row, `progress:${this.lease}:${++this.seq}`);
      } catch (err) {
        // Progress is advisory: a failed write never fails the job.
        this.logger.warn(`progress of job ${this.row.id} not recorded: ${(err as Error).message}`);
      }
    }
  }
}

function jobLogger(logger: Logger, id: string, attempt: number): JobLogger {
  const tag = (m: string) => `[${id} #${attempt}] ${m}`;
  return {
    log: (m) => logger.log(tag(m)),
    warn: (m) => logger.warn(tag(m)),
    error: (m) => logger.error(tag(m)),
    debug: (m) => logger.debug(tag(m)),
  };
}

/**
 * Runs BullMQ jobs of one type against their Postgres rows. BullMQ decides
 * when and where a job runs (delay, priority, backoff, stall recovery); the
 * row decides whether it may: every step is a conditional update fenced by
 * the attempt's lease, so a second processor of the same job (after a stall
 * or a duplicate enqueue) cannot complete it twice or revive a final job.
 */
export class JobRunner {
  private readonly logger: Logger;

  constructor(
    private readonly handler: RegisteredHandler,
    private readonly deps: RunnerDeps,
  ) {
    this.logger = new Logger(`job:${handler.name}`);
  }

  /** The BullMQ processor. */
  async process(job: BullJob, token?: string): Promise<unknown> {
    const id = job.id!;
    if (this.deps.stopping()) {
      // Fetched while shutting down: hand it back untouched for another worker.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const lease = randomUUID();
    const row = await withDbRetry(() => this.deps.store.activate(id, lease));
    if (!row) return this.notActivated(id);

    const started = performance.now();
    const controller = new AbortController();
    let finish!: () => void;
    const run: Run = {
      id,
      type: row.type,
      lease,
      abort: (kind, message) => {
        if (!controller.signal.aborted) controller.abort(new JobAbortError(kind, message));
      },
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    this.deps.track(run);
    const outcome = (o: AttemptOutcome) =>
      this.deps.metrics.attempt(row.type, o, (performance.now() - started) / 1000);
    try {
      await this.deps.events.publish('active', row, `active:${lease}`);
      const progress = new ProgressWriter(row, lease, this.deps, this.logger, () =>
        run.abort('lost', 'the job is no longer held by this attempt'),
      );
      const ctx: JobContext = {
        id,
        type: row.type,
        attempt: row.attempts,
        maxAttempts: row.max_attempts,
        signal: controller.signal,
        logger: jobLogger(this.logger, id, row.attempts),
        progress: (n) => progress.write(n),
      };
      let result: unknown;
      let failure: unknown;
      let threw = false;
      let timer: NodeJS.Timeout | undefined;
      if (this.handler.timeoutMs) {
        timer = setTimeout(
          () => run.abort('timeout', `timed out after ${this.handler.timeoutMs} ms`),
          this.handler.timeoutMs,
        );
      }
      try {
        let payload: unknown;
        try {
          payload = validatePayload(this.handler.options, row.payload);
        } catch (err) {
          // Stored before a deploy changed the rules: retrying cannot help.
          throw new PermanentJobError(`stored payload no longer valid: ${(err as Error).message}`);
        }
        const work = Promise.resolve().then(() => this.handler.instance.run(payload, ctx));
        result = await this.raceAbort(work, controller.signal);
        if (controller.signal.aborted) throw controller.signal.reason;
      } catch (err) {
        threw = true;
        failure = err;
      } finally {
        clearTimeout(timer);
      }
      // Events stay in order: progress already sent goes out before the final one.
      await progress.settled();

      const reason = controller.signal.reason as JobAbortError | undefined;
      if (!threw) return await this.complete(row, lease, result, outcome);
      if (reason?.kind === 'cancelled' || reason?.kind === 'lost') {
        outcome(reason.kind === 'cancelled' ? 'cancelled' : 'lost');
        // A cancel is announced by the worker that ran the job, after its last progress event.
        await this.deps.events.announcePending(id);
        throw new UnrecoverableError(reason.message);
      }
      if (reason?.kind === 'shutdown') {
        outcome('requeued');
        await withDbRetry(() => this.deps.store.requeue(id, lease));
        await job.moveToWait(token);
        throw new WaitingError();
      }
      return await this.failed(row, lease, failure, outcome);
    } finally {
      this.deps.untrack(run);
      finish();
    }
  }

  /** Resolves or rejects with `work`, or rejects as soon as `signal` aborts. */
  private raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    work.catch(() => undefined);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async complete(
    row: JobRow,
    lease: string,
    result: unknown,
    outcome: (o: AttemptOutcome) => void,
  ): Promise<unknown> {
    const json = JSON.stringify(result ?? null);
    const size = Buffer.byteLength(json);
    if (size > this.deps.maxResultBytes) {
      return this.failed(
        row,
        lease,
        new PermanentJobError(`result is ${size} bytes serialised; the limit is ${this.deps.maxResultBytes}`),
        outcome,
      );
    }
    const done = await withDbRetry(() => this.deps.store.complete(row.id, lease, json));
    if (!done) {
      // Cancelled or taken over while finishing: the other transition stands.
      outcome('lost');
      await this.deps.events.announcePending(row.id);
      throw new UnrecoverableError('the job was cancelled or taken over before it completed');
    }
    outcome('completed');
    await this.deps.events.publish('completed', done, JobEvents.finalKey('completed'));
    return { state: 'completed' };
  }

  private async failed(
    row: JobRow,
    lease: string,
    failure: unknown,
    outcome: (o: AttemptOutcome) => void,
  ): Promise<never> {
    const err = failure instanceof Error ? failure : new Error(String(failure));
    const message = err.message || err.name || 'job failed';
    const permanent = err instanceof PermanentJobError || err instanceof UnrecoverableError;
    const last = permanent || row.attempts >= row.max_attempts;
    if (!last) {
      const queued = await withDbRetry(() => this.deps.store.retry(row.id, lease, message));
      if (queued) {
        outcome('retried');
        this.logger.warn(
          `[${row.id}] attempt ${row.attempts}/${row.max_attempts} failed, will retry: ${message}`,
        );
        throw err; // BullMQ schedules the next attempt after the backoff.
      }
    } else {
      const failedRow = await withDbRetry(() => this.deps.store.fail(row.id, lease, message));
      if (failedRow) {
        outcome('failed');
        await this.deps.events.publish('failed', failedRow, JobEvents.finalKey('failed'));
        throw new UnrecoverableError(message);
      }
    }
    outcome('lost');
    await this.deps.events.announcePending(row.id);
    throw new UnrecoverableError('the job was cancelled or taken over before its failure was recorded');
  }

  /**
   * The row refused activation: it is final (cancelled before it started,
   * or a duplicate of a finished job), gone, or out of attempts because its
   * previous workers died mid-run, which is a failure to record now.
   */
  private async notActivated(id: string): Promise<unknown> {
    const row = await withDbRetry(() => this.deps.store.get(id));
    if (!row) return { skipped: 'no such job' };
    if (isFinal(row.state)) return { skipped: row.state };
    const failed = await withDbRetry(() =>
      this.deps.store.failExhausted(
        id,
        `the worker running attempt ${row.attempts} of ${row.max_attempts} stopped (crashed or lost Redis) and no attempts are left`,
      ),
    );
    if (failed) {
      this.deps.metrics.outcomes.inc({ type: row.type, outcome: 'failed' });
      await this.deps.events.publish('failed', failed, JobEvents.finalKey('failed'));
      throw new UnrecoverableError(failed.error ?? 'failed');
    }
    // Raced with another transition; let BullMQ try again shortly.
    throw new Error(`job ${id} could not be activated from state ${row.state}`);
  }
}
