import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';

/** What a handler's `run` gets besides its payload. */
export interface JobContext {
  readonly id: string;
  readonly type: string;
  /** 1 for the first attempt; counts every start, including a takeover after a worker died. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /**
   * Aborted when the job is cancelled, when this worker must stop (shutdown;
   * the job is given back and runs again elsewhere), when `timeoutMs` passes,
   * or when another worker has taken the job over. `signal.reason` is a
   * {@link JobAbortError} saying which. Pass it to anything that accepts one.
   */
  readonly signal: AbortSignal;
  readonly logger: JobLogger;
  /**
   * Reports progress, 0..100 (rounded, clamped). Writes are coalesced: the
   * first at once, then at most one per 50 ms, the latest value winning, so a
   * tight loop may call it freely. Resolves at once (it never waits for
   * Postgres) and never rejects; a value still waiting when the attempt ends
   * is dropped, since the final event says where the job ended.
   */
  progress(percent: number): Promise<void>;
}

export interface JobLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface BackoffOptions {
  type: 'exponential' | 'fixed';
  /** The first retry's delay; exponential doubles it each time. */
  delayMs: number;
}

/**
 * A payload validator: returns the payload to store and run with, or throws
 * (an AppError('bad_request'), or any Error whose message names the field).
 */
export type PayloadValidator<P> = (input: unknown) => P;

/** A class-validator DTO class (fields decorated with @IsInt() & co.). */
export type PayloadClass<P> = new () => P;

export interface JobHandlerOptions<P = unknown> {
  /** The job type clients submit: letters, digits, `.`, `_`, `-`; no `:`. */
  name: string;
  /** How the payload is checked at submit (400 when rejected) and again before running. */
  payload?: PayloadClass<P> | { validate: PayloadValidator<P> };
  /** Jobs of this type one worker process runs at once; default WORKER_CONCURRENCY. */
  concurrency?: number;
  /** Default attempts (the first run included); a submit may override it. Default 3. */
  attempts?: number;
  /** Delay before each retry. Default exponential from 1 s. */
  backoff?: BackoffOptions;
  /** Aborts an attempt that runs longer (a retryable failure). Default none. */
  timeoutMs?: number;
}

/** A job type: one class, decorated with {@link JobHandler}. */
export interface JobHandlerInstance<P = unknown, R = unknown> {
  run(payload: P, ctx: JobContext): Promise<R>;
}

/** Why `ctx.signal` was aborted. */
export type AbortKind = 'cancelled' | 'shutdown' | 'timeout' | 'lost';

export class JobAbortError extends Error {
  override readonly name = 'JobAbortError';
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
  }
}

/** Throw from `run` to fail the job at once, without the remaining attempts. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

export const JOB_HANDLER = Symbol('squall:job-handler');

export const JOB_TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Marks a provider as the handler of one job type. The class is also made
 * injectable, so it can depend on any service; list it in some module's
 * `providers` and the registry finds it at startup.
 */
export function JobHandler<P>(options: JobHandlerOptions<P>): ClassDecorator {
  if (!JOB_TYPE_NAME.test(options.name)) {
    throw new Error(`@JobHandler name ${JSON.stringify(options.name)} must match ${JOB_TYPE_NAME}`);
  }
  return applyDecorators(Injectable(), SetMetadata(JOB_HANDLER, options));
}
