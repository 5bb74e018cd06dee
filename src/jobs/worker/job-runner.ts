import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type Job as BullJob, DelayedError, UnrecoverableError, WaitingError } from 'bullmq';
import { isDatabaseUnavailable, isInvalidDataError } from '../../infra/errors/database-errors.js';
import { checkJsonValue } from '../../infra/http/json-limits.js';
import type { JobRow } from '../job.js';
import type { JobEvents } from '../job-events.js';
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
import type { JobsStore, Transitioned } from '../jobs.store.js';
import type { JobsBatchStore } from '../jobs-batch.store.js';
import { validatePayload } from '../payload.js';
import { ProgressWriter } from './progress-writer.js';
import { backoffMs, sleep } from '../../lib/backoff.js';

/** Retries a Postgres write while the database is briefly unreachable (~7 s in all), then gives up. */
export async function withDbRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 6 || !isDatabaseUnavailable(err)) throw err;
      await sleep(backoffMs(attempt, 250, 2000));
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
  /** The hot transitions (activate, progress, complete), group-committed across this process's attempts. */
  batched: Pick<JobsBatchStore, 'activate' | 'progress' | 'complete'>;
  events: JobEvents;
  metrics: JobsMetrics;
  maxResultBytes: number;
  /** How long an attempt's lease holds without a heartbeat (see JobsWorkerService). */
  leaseMs: number;
  /** True once the worker is shutting down: a job fetched now is handed straight back. */
  stopping: () => boolean;
  track(run: Run): void;
  untrack(run: Run): void;
}

/**
 * The JSON text of a handler's result, or a PermanentJobError saying why it
 * has none: a result that cannot be stored must end the job `failed` with a
 * clear reason, not escape the state machine.
 */
export function serialiseResult(result: unknown, maxBytes: number): string {
  if (typeof result === 'function' || typeof result === 'symbol') {
    throw new PermanentJobError(`result is a ${typeof result}, not a JSON value`);
  }
  let json: string;
  try {
    json = JSON.stringify(result ?? null);
    checkJsonValue(result ?? null, 'result');
  } catch (err) {
    throw new PermanentJobError(`result cannot be stored as JSON: ${(err as Error).message}`);
  }
  const size = Buffer.byteLength(json);
  if (size > maxBytes) {
    throw new PermanentJobError(`result is ${size} bytes serialised; the limit is ${maxBytes}`);
  }
  return json;
}

/** A handler's logger: every line carries the job's id and attempt as fields. */
function jobLogger(logger: Logger, jobId: string, attempt: number): JobLogger {
  const line = (msg: string) => ({ msg, jobId, attempt });
  return {
    log: (m) => logger.log(line(m)),
    warn: (m) => logger.warn(line(m)),
    error: (m) => logger.error(line(m)),
    debug: (m) => logger.debug(line(m)),
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
    const activated = await withDbRetry(() => this.deps.batched.activate(id, lease, this.deps.leaseMs));
    let row: JobRow;
    try {
      row = activated ?? (await this.notActivated(id, lease, job, token));
    } catch (err) {
      if (err instanceof Skip) return { skipped: err.reason };
      throw err;
    }
    this.deps.events.announce(activated);

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
    const progress = new ProgressWriter(
      id,
      lease,
      { store: this.deps.batched, events: this.deps.events },
      this.logger,
      () => run.abort('lost', 'the job is no longer held by this attempt'),
    );
    try {
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
        // Cancelled or taken over while activating (track() aborts a run whose
        // cancel arrived first): the handler must never start.
        if (controller.signal.aborted) throw controller.signal.reason;
        const work = Promise.resolve().then(() => this.handler.instance.run(payload, ctx));
        result = await this.raceAbort(work, controller.signal);
        if (controller.signal.aborted) throw controller.signal.reason;
      } catch (err) {
        threw = true;
        failure = err;
      } finally {
        clearTimeout(timer);
      }
      // Progress in flight is written before the final transition; none after it.
      await progress.close();

      const reason = controller.signal.reason as JobAbortError | undefined;
      if (!threw) return await this.complete(row, lease, result, outcome);
      if (reason?.kind === 'cancelled' || reason?.kind === 'lost') {
        // The cancel (and its event) was written by whoever cancelled; a takeover belongs to its new attempt.
        outcome(reason.kind === 'cancelled' ? 'cancelled' : 'lost');
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
      void progress.close();
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
    let json: string;
    try {
      json = serialiseResult(result, this.deps.maxResultBytes);
    } catch (err) {
      return this.failed(row, lease, err, outcome);
    }
    let done: Transitioned | null;
    try {
      done = await withDbRetry(() => this.deps.batched.complete(row.id, lease, json));
    } catch (err) {
      // e.g. "\u0000" in a string: Postgres refuses it in jsonb.
      if (!isInvalidDataError(err)) throw err;
      const refusal = new PermanentJobError(`result cannot be stored: ${(err as Error).message}`);
      return this.failed(row, lease, refusal, outcome);
    }
    if (!done) {
      // Cancelled or taken over while finishing: the other transition stands.
      outcome('lost');
      throw new UnrecoverableError('the job was cancelled or taken over before it completed');
    }
    this.deps.events.announce(done);
    outcome('completed');
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
      const queued = await withDbRetry(() =>
        this.deps.store.retry(row.id, lease, message, 2 * this.deps.leaseMs),
      );
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
        this.deps.events.announce(failedRow);
        outcome('failed');
        throw new UnrecoverableError(message);
      }
    }
    outcome('lost');
    throw new UnrecoverableError('the job was cancelled or taken over before its failure was recorded');
  }

  /**
   * The row refused activation. Answers the row when this very lease holds it
   * (the activation committed but its answer was lost, and withDbRetry sent
   * it again: the attempt is not counted twice). Otherwise the job is final
   * (cancelled before it started, or a duplicate of a finished job), gone,
   * held by a live attempt elsewhere (BullMQ took a slow worker for stalled:
   * come back once that lease could have expired), or out of attempts because
   * its previous workers died mid-run, which is a failure to record now.
   */
  private async notActivated(id: string, lease: string, job: BullJob, token?: string): Promise<JobRow> {
    const row = await withDbRetry(() => this.deps.store.get(id));
    if (!row) throw new Skip('no such job');
    if (row.state === 'active' && row.lease === lease) return row;
    if (isFinal(row.state)) throw new Skip(row.state);
    if (row.state === 'active' && row.lease_expires_at && row.lease_expires_at.getTime() >= Date.now()) {
      await job.moveToDelayed(row.lease_expires_at.getTime() + 1000, token);
      throw new DelayedError();
    }
    const failed = await withDbRetry(() =>
      this.deps.store.failExhausted(
        id,
        `the worker running attempt ${row.attempts} of ${row.max_attempts} stopped (crashed or lost Redis) and no attempts are left`,
      ),
    );
    if (failed) {
      this.deps.events.announce(failed);
      this.deps.metrics.outcomes.inc({ type: row.type, outcome: 'failed' });
      throw new UnrecoverableError(failed.error ?? 'failed');
    }
    // Raced with another transition; let BullMQ try again shortly.
    throw new Error(`job ${id} could not be activated from state ${row.state}`);
  }
}

/** Thrown by notActivated for a job there is nothing to do for; the processor answers `{skipped}`. */
export class Skip extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}
