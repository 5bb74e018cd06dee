import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { JOB_COLUMNS, type Cursor, type JobRow } from './job.js';
import { FINAL_STATES, type JobState, PENDING_STATES, fromStates } from './job-state.js';

export interface NewJob {
  id: string;
  type: string;
  payload: unknown;
  maxAttempts: number;
  priority: number;
  delayMs: number;
  idempotencyKey?: string;
}

export interface ListFilter {
  state?: JobState;
  type?: string;
  limit: number;
  after?: Cursor;
}

/** Error texts are stored whole up to this many characters. */
const MAX_ERROR_CHARS = 4000;
export const clipError = (message: string) =>
  message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 1)}…` : message;

/**
 * Every read and write of the `jobs` table. Each transition is one
 * conditional UPDATE: it names the states it may leave (from the state
 * machine) and, for a running attempt, the attempt's lease; when it matches no
 * row the transition did not happen and the caller learns it from `null`.
 */
@Injectable()
export class JobsStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private async one(sql: string, params: unknown[]): Promise<JobRow | null> {
    const result: unknown = await this.db.query(sql, params);
    // TypeORM answers an UPDATE ... RETURNING with [rows, count].
    const rows = (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as JobRow[];
    return rows[0] ?? null;
  }

  private async many(sql: string, params: unknown[]): Promise<JobRow[]> {
    const result: unknown = await this.db.query(sql, params);
    return (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as JobRow[];
  }

  /** Inserts the job; with a used idempotency key, returns the existing one instead. */
  async insert(job: NewJob): Promise<{ row: JobRow; created: boolean }> {
    const row = await this.one(
      `INSERT INTO jobs (id, type, payload, max_attempts, priority, delay_ms, run_at, idempotency_key)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6::bigint, now() + $6::bigint * interval '1 millisecond', $7)
       ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING ${JOB_COLUMNS}`,
      [
        job.id,
        job.type,
        JSON.stringify(job.payload ?? null),
        job.maxAttempts,
        job.priority,
        job.delayMs,
        job.idempotencyKey ?? null,
      ],
    );
    if (row) return { row, created: true };
    const existing = job.idempotencyKey ? await this.byIdempotencyKey(job.idempotencyKey) : null;
    if (!existing) throw new Error('idempotent insert found neither a new nor an existing row');
    return { row: existing, created: false };
  }

  byIdempotencyKey(key: string): Promise<JobRow | null> {
    return this.one(`SELECT ${JOB_COLUMNS} FROM jobs WHERE idempotency_key = $1`, [key]);
  }

  get(id: string): Promise<JobRow | null> {
    return this.one(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
  }

  /** Newest first, by the keyset (created_at, id); one more row than `limit` tells whether more follow. */
  list(filter: ListFilter): Promise<JobRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.state) {
      params.push(filter.state);
      where.push(`state = $${params.length}`);
    }
    if (filter.type) {
      params.push(filter.type);
      where.push(`type = $${params.length}`);
    }
    if (filter.after) {
      params.push(filter.after.createdUs, filter.after.id);
      where.push(
        `(created_at, id) < (timestamptz 'epoch' + $${params.length - 1}::bigint * interval '1 microsecond', $${params.length}::uuid)`,
      );
    }
    params.push(filter.limit + 1);
    return this.many(
      `SELECT ${JOB_COLUMNS} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
  }

  markEnqueued(id: string): Promise<unknown> {
    return this.db.query('UPDATE jobs SET enqueued_at = now() WHERE id = $1 AND enqueued_at IS NULL', [id]);
  }

  /**
   * Starts an attempt under a new lease: from queued, or from active when the
   * previous worker stalled (its lease is then void). Refused for a final job
   * and for one with no attempts left.
   */
  activate(id: string, lease: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'active', lease = $2, attempts = attempts + 1, progress = 0,
         started_at = coalesce(started_at, now()), enqueued_at = coalesce(enqueued_at, now()), updated_at = now()
       WHERE id = $1 AND state = ANY($3) AND attempts < max_attempts
       RETURNING ${JOB_COLUMNS}`,
      [id, lease, fromStates('active')],
    );
  }

  progress(id: string, lease: string, progress: number): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET progress = $3, updated_at = now()
       WHERE id = $1 AND lease = $2 AND state = 'active'
       RETURNING ${JOB_COLUMNS}`,
      [id, lease, progress],
    );
  }

  complete(id: string, lease: string, resultJson: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'completed', progress = 100, result = $3::jsonb, error = NULL, lease = NULL,
         finished_at = now(), updated_at = now(), final_event_pending = true
       WHERE id = $1 AND lease = $2 AND state = ANY($4)
       RETURNING ${JOB_COLUMNS}`,
      [id, lease, resultJson, fromStates('completed')],
    );
  }

  /** The attempt failed for good. */
  fail(id: string, lease: string, error: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'failed', error = $3, lease = NULL, finished_at = now(), updated_at = now(),
         final_event_pending = true
       WHERE id = $1 AND lease = $2 AND state = 'active'
       RETURNING ${JOB_COLUMNS}`,
      [id, lease, clipError(error)],
    );
  }

  /** The attempt failed and another one follows (BullMQ schedules it after the backoff). */
  retry(id: string, lease: string, error: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'queued', error = $3, lease = NULL, updated_at = now()
       WHERE id = $1 AND lease = $2 AND state = ANY($4)
       RETURNING ${JOB_COLUMNS}`,
      [id, lease, clipError(error), fromStates('queued')],
    );
  }

  /** Gives the attempt back (worker shutting down): queued again, the attempt not counted. */
  requeue(id: string, lease: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'queued', lease = NULL, attempts = greatest(attempts - 1, 0), progress = 0,
         updated_at = now()
       WHERE id = $1 AND lease = $2 AND state = ANY($3)
       RETURNING ${JOB_COLUMNS}`,
      [id, lease, fromStates('queued')],
    );
  }

  /** A pending job whose attempts are used up although none finished (its workers died): failed. */
  failExhausted(id: string, error: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'failed', error = $2, lease = NULL, finished_at = now(), updated_at = now(),
         final_event_pending = true
       WHERE id = $1 AND state = ANY($3) AND attempts >= max_attempts
       RETURNING ${JOB_COLUMNS}`,
      [id, clipError(error), fromStates('failed')],
    );
  }

  /** A pending job BullMQ will never take (it refuses its options): failed, whatever its attempts. */
  failUnenqueueable(id: string, error: string): Promise<JobRow | null> {
    return this.one(
      `UPDATE jobs SET state = 'failed', error = $2, lease = NULL, finished_at = now(), updated_at = now(),
         final_event_pending = true
       WHERE id = $1 AND state = ANY($3)
       RETURNING ${JOB_COLUMNS}`,
      [id, clipError(error), fromStates('failed')],
    );
  }

  /**
   * Cancels a pending job; also answers the state it left, since who
   * announces the cancel depends on it (see JobsService.cancel). Null when the
   * job is missing or already final.
   */
  async cancel(id: string): Promise<{ row: JobRow; previous: JobState } | null> {
    return this.db.transaction(async (tx) => {
      const current: { state: JobState }[] = await tx.query(
        'SELECT state FROM jobs WHERE id = $1 FOR UPDATE',
        [id],
      );
      const previous = current[0]?.state;
      if (!previous || !fromStates('cancelled').includes(previous)) return null;
      const result: [JobRow[], number] = await tx.query(
        `UPDATE jobs SET state = 'cancelled', lease = NULL, finished_at = now(), updated_at = now(),
           final_event_pending = true
         WHERE id = $1
         RETURNING ${JOB_COLUMNS}`,
        [id],
      );
      return { row: result[0][0], previous };
    });
  }

  markAnnounced(id: string): Promise<unknown> {
    return this.db.query('UPDATE jobs SET final_event_pending = false WHERE id = $1', [id]);
  }

  /** Of these running attempts, the ones whose lease is no longer current, with the row's state. */
  async staleLeases(
    runs: { id: string; lease: string }[],
  ): Promise<{ id: string; lease: string; state: JobState | null }[]> {
    if (runs.length === 0) return [];
    return this.db.query(
      `SELECT t.id::text AS id, t.lease::text AS lease, j.state
       FROM unnest($1::uuid[], $2::uuid[]) AS t(id, lease)
       LEFT JOIN jobs j ON j.id = t.id
       WHERE j.id IS NULL OR j.state <> 'active' OR j.lease IS DISTINCT FROM t.lease`,
      [runs.map((r) => r.id), runs.map((r) => r.lease)],
    );
  }

  /**
   * Claims queued rows BullMQ has never acknowledged (Redis was down at
   * submit), oldest first. Claiming stamps checked_at, so reconcilers on
   * several workers take disjoint batches and each row is retried once per
   * `retryMs`.
   */
  claimUnenqueued(types: string[], limit: number, retryMs: number): Promise<JobRow[]> {
    return this.many(
      `UPDATE jobs SET checked_at = now() WHERE id IN (
         SELECT id FROM jobs
         WHERE state = 'queued' AND enqueued_at IS NULL AND type = ANY($1)
           AND created_at < now() - interval '1 second'
           AND (checked_at IS NULL OR checked_at < now() - $2 * interval '1 millisecond')
         ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING ${JOB_COLUMNS}`,
      [types, retryMs, limit],
    );
  }

  /**
   * Claims pending, enqueued rows to compare with BullMQ, least recently
   * checked first. A row is due for a check once it has been quiet for
   * `quiet.queuedMs` (`quiet.activeMs` when active: a running job may write
   * nothing for a while) and either was never checked, was last checked
   * `recheck.dueMs` ago (`recheck.laterMs` while it is delayed into the
   * future), or has come due since its last check: a delayed job Redis lost
   * is found when it should run, however long its delay.
   */
  claimForCheck(
    types: string[],
    limit: number,
    quiet: { queuedMs: number; activeMs: number },
    recheck: { dueMs: number; laterMs: number },
  ): Promise<JobRow[]> {
    return this.many(
      `UPDATE jobs SET checked_at = now() WHERE id IN (
         SELECT id FROM jobs
         WHERE state = ANY($1) AND enqueued_at IS NOT NULL AND type = ANY($2)
           AND updated_at < now() - (CASE WHEN state = 'active' THEN $4::bigint ELSE $3::bigint END) * interval '1 millisecond'
           AND (checked_at IS NULL
             OR checked_at < now() - (CASE WHEN run_at > now() THEN $6::bigint ELSE $5::bigint END) * interval '1 millisecond'
             OR (checked_at < run_at AND run_at <= now()))
         ORDER BY checked_at NULLS FIRST LIMIT $7 FOR UPDATE SKIP LOCKED)
       RETURNING ${JOB_COLUMNS}`,
      [PENDING_STATES, types, quiet.queuedMs, quiet.activeMs, recheck.dueMs, recheck.laterMs, limit],
    );
  }

  /** Final rows whose event may not have been published (the publisher failed or died). */
  unannounced(limit: number, graceMs: number): Promise<JobRow[]> {
    return this.many(
      `SELECT ${JOB_COLUMNS} FROM jobs
       WHERE final_event_pending AND finished_at < now() - $1 * interval '1 millisecond'
       ORDER BY finished_at LIMIT $2`,
      [graceMs, limit],
    );
  }

  /** Deletes finished jobs older than `seconds`, in batches; returns how many. */
  async deleteFinished(seconds: number, batch = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const res: [unknown[], number] = await this.db.query(
        `DELETE FROM jobs WHERE id = ANY(ARRAY(
           SELECT id FROM jobs WHERE finished_at < now() - $1 * interval '1 second'
             AND state = ANY($2) AND NOT final_event_pending LIMIT $3))`,
        [seconds, FINAL_STATES, batch],
      );
      total += res[1];
      if (res[1] < batch) return total;
    }
  }
}
