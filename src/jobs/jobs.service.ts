import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { PRIORITY_LIMIT } from 'bullmq';
import { AppError } from '../infra/errors/app-error.js';
import { isInvalidDataError } from '../infra/errors/database-errors.js';
import { checkJsonValue } from '../infra/http/json-limits.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import type { Principal } from '../auth/principal.js';
import { type Job, type JobRow, type JobScope, UUID, decodeCursor, encodeCursor, toJob } from './job.js';
import { JobEvents } from './job-events.js';
import { JobOwners } from './job-owners.js';
import { JobQueues } from './job-queues.js';
import { MAX_ATTEMPTS, JobRegistry, type RegisteredHandler } from './job-registry.js';
import type { JobState } from './job-state.js';
import { JobsMetrics } from './jobs.metrics.js';
import { JobsStore } from './jobs.store.js';
import { JobsBatchStore } from './jobs-batch.store.js';
import { IDEMPOTENCY_KEY, parseIdempotencyKey } from '../infra/http/idempotency-key.js';

export const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;
/** BullMQ's own limit (2 ** 21 - 1): a larger priority would never be enqueued. */
export const MAX_PRIORITY = PRIORITY_LIMIT;
/** When the reconciler first makes sure BullMQ has a job, after the time it should run. */
const FIRST_CHECK_AFTER_MS = 1000;

export interface SubmitInput {
  type: string;
  payload?: unknown;
  idempotencyKey?: string;
  delayMs?: number;
  priority?: number;
  attempts?: number;
}

export interface ListInput {
  state?: JobState;
  type?: string;
  limit?: number;
  cursor?: string;
}

/** An admin (open mode included) reaches every job; anyone else only the jobs their `sub` submitted. */
export const scopeOf = (principal: Principal): JobScope =>
  principal.admin ? 'all' : { owner: principal.sub };

/**
 * The jobs API for every caller: the REST controller, and application code
 * that submits work itself (inject JobsService from any module importing
 * JobsModule). Every role can submit; only workers run. Every method takes
 * the requester's Principal: a job belongs to the `sub` that submitted it,
 * and only that `sub` and admins read, list or cancel it; to anyone else it
 * does not exist (404, never 403, so ids reveal nothing). Application code
 * acting for a user passes that user's principal; OPEN_ACCESS submits a job
 * that belongs to no one (admins see it).
 */
@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    private readonly store: JobsStore,
    /** Inserts group-committed across concurrent submits (the hot path). */
    private readonly batched: JobsBatchStore,
    private readonly registry: JobRegistry,
    private readonly queues: JobQueues,
    private readonly events: JobEvents,
    private readonly owners: JobOwners,
    private readonly metrics: JobsMetrics,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * Validates, commits the row, then enqueues it in BullMQ. When Redis is
   * down the row is committed all the same (the reconciler enqueues it later),
   * so the answer is the same: the job. `created` is false for a repeated
   * idempotency key, whose original job is returned unchanged, even when the
   * repeat would not pass validation (see {@link replayOr}). Keys are per
   * owner: the same key from two users makes two jobs.
   */
  async submit(principal: Principal, input: SubmitInput): Promise<{ job: Job; created: boolean }> {
    let checked: { handler: RegisteredHandler; payload: unknown };
    try {
      checked = this.check(input);
    } catch (err) {
      return this.replayOr(principal, err, input.idempotencyKey);
    }
    const { handler, payload } = checked;
    let inserted: { row: JobRow; created: boolean };
    try {
      inserted = await this.batched.insert({
        id: randomUUID(),
        type: handler.name,
        payload,
        maxAttempts: input.attempts ?? handler.attempts,
        priority: input.priority ?? 0,
        delayMs: input.delayMs ?? 0,
        idempotencyKey: input.idempotencyKey,
        owner: principal.sub,
        // BullMQ gets it within milliseconds; should it not (Redis away), the
        // reconciler finds out a second after the job should have run.
        checkAfterMs: FIRST_CHECK_AFTER_MS,
      });
    } catch (err) {
      // e.g. \u0000 in a string: Postgres refuses it in jsonb. The input is at
      // fault, and like any refusal it still replays a known key.
      if (!isInvalidDataError(err)) throw err;
      const refusal = new AppError('bad_request', `payload cannot be stored: ${(err as Error).message}`);
      return this.replayOr(principal, refusal, input.idempotencyKey);
    }
    const { row, created } = inserted;
    this.owners.remember(row.id, row.owner); // its submitter is likely to subscribe next
    if (!created) return { job: toJob(row), created };
    this.metrics.submitted.inc({ type: handler.name });
    // The new row comes back without its payload: it is the one just validated.
    const full = { ...row, payload };
    await this.enqueue(full, handler);
    return { job: toJob(full), created };
  }

  /**
   * A rejected submit whose idempotencyKey already names a job answers that
   * job: a client retrying must get its original, even if the rules or its
   * body changed meanwhile. The lookup happens only on this failure path,
   * among the requester's own keys.
   */
  async replayOr(principal: Principal, err: unknown, key: unknown): Promise<{ job: Job; created: false }> {
    if (!(err instanceof AppError) || typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) throw err;
    const row = await this.store.byIdempotencyKey(principal.sub, key);
    if (!row) throw err;
    return { job: toJob(row), created: false };
  }

  private check(input: SubmitInput): { handler: RegisteredHandler; payload: unknown } {
    const handler = this.registry.require(input.type);
    const raw = input.payload === undefined ? {} : input.payload;
    checkJsonValue(raw, 'payload');
    this.checkSize(raw);
    const payload = this.registry.validate(input.type, raw);
    this.checkSize(payload); // a validator may have added to it
    parseIdempotencyKey(input.idempotencyKey);
    checkInt('delayMs', input.delayMs, 0, MAX_DELAY_MS);
    checkInt('priority', input.priority, 0, MAX_PRIORITY);
    checkInt('attempts', input.attempts, 1, MAX_ATTEMPTS);
    return { handler, payload };
  }

  private checkSize(payload: unknown): void {
    const size = Buffer.byteLength(JSON.stringify(payload ?? null));
    if (size > this.config.MAX_MESSAGE_BYTES) {
      throw new AppError(
        'payload_too_large',
        `payload is ${size} bytes serialised; the limit is ${this.config.MAX_MESSAGE_BYTES}`,
      );
    }
  }

  /**
   * Best effort: on failure the row is still there and the reconciler, which
   * looks at every pending row once it is due (check_at), adds it to BullMQ.
   * Nothing is written back on success: BullMQ having the job is what the
   * reconciler checks, not a flag in the row.
   */
  private async enqueue(row: JobRow, handler: RegisteredHandler): Promise<void> {
    try {
      await this.queues.add(row, handler);
    } catch (err) {
      this.metrics.enqueueFailures.inc({ type: row.type });
      this.logger.warn({
        msg: 'job committed but not enqueued yet',
        jobId: row.id,
        err: (err as Error).message,
      });
    }
  }

  async get(principal: Principal, id: string): Promise<Job> {
    return toJob(await this.row(principal, id));
  }

  /** Newest first: an admin's list holds every job, anyone else's only their own. */
  async list(principal: Principal, input: ListInput): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    const limit = input.limit ?? 20;
    const rows = await this.store.list({
      scope: scopeOf(principal),
      state: input.state,
      type: input.type,
      limit,
      after: input.cursor ? decodeCursor(input.cursor) : undefined,
    });
    const page = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? encodeCursor(page[page.length - 1]) : null;
    return { jobs: page.map(toJob), nextCursor };
  }

  /**
   * Cancels a queued, delayed or running job: the row turns `cancelled` now,
   * with its `cancelled` event in the same statement, so it is the job's last
   * event (a worker's later writes are fenced out by the state). Then the job
   * is removed from BullMQ, or the worker running it is told to abort. Were
   * either to fail, the row's state still keeps the job from starting again,
   * and the worker's heartbeat finds the cancel within seconds. Someone
   * else's job is 404, as if it did not exist.
   */
  async cancel(principal: Principal, id: string): Promise<Job> {
    assertUuid(id);
    const cancelled = await this.store.cancel(id, scopeOf(principal));
    if (!cancelled) {
      const current = await this.row(principal, id);
      throw new AppError('conflict', `job ${id} is already ${current.state}`);
    }
    const { row, previous } = cancelled;
    this.events.announce(row);
    this.metrics.outcomes.inc({ type: row.type, outcome: 'cancelled' });
    const handler = this.registry.get(row.type);
    if (previous === 'queued') {
      if (handler) void this.queues.remove(handler, row.id);
    } else {
      void this.queues.signalCancel(row.id);
    }
    return toJob(row);
  }

  private async row(principal: Principal, id: string): Promise<JobRow> {
    assertUuid(id);
    const row = await this.store.get(id, scopeOf(principal));
    if (!row) throw new AppError('not_found', `job ${id} not found`);
    return row;
  }
}

function assertUuid(id: string): void {
  if (!UUID.test(id)) throw new AppError('bad_request', 'id must be a UUID');
}

function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AppError('bad_request', `${name} must be an integer between ${min} and ${max}`);
  }
}
