import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { JOB_COLUMNS, RUN_COLUMNS, type Cursor, type JobRow, type JobScope } from './job.js';
import { type EventColumns, eventResultColumns, withEvent } from './job-event-sql.js';
import { FINAL_STATES, type JobEvent, type JobState, fromStates } from './job-state.js';
import { deleteInBatches } from '../infra/database/delete-in-batches.js';
import { PreparedQueries } from '../infra/database/prepared-queries.js';

export interface NewJob {
  id: string;
  type: string;
  payload: unknown;
  maxAttempts: number;
  priority: number;
  delayMs: number;
  idempotencyKey?: string;
  /** The submitter's `sub` (null in open mode); idempotency keys are unique per owner. */
  owner: string | null;
  /** How long after run_at the reconciler first checks that BullMQ has the job. */
  checkAfterMs: number;
}

export interface ListFilter {
  scope: JobScope;
  state?: JobState;
  type?: string;
  limit: number;
  after?: Cursor;
}

/** `AND owner = $n` for a scope limited to one owner (`params` gets the value), nothing for `all`. */
function ownerClause(scope: JobScope, params: unknown[], column = 'owner'): string {
  if (scope === 'all') return '';
  params.push(scope.owner);
  // owner = NULL matches nothing: a caller without a sub reaches no job.
  return ` AND ${column} = $${params.length}`;
}

/** A row after a transition, with the event written in the same statement (ev_* null when none). */
export type Transitioned = JobRow & Partial<EventColumns>;

/** A pending row the reconciler claimed; `live` when it is active under an unexpired lease. */
export type DueRow = JobRow & { live: boolean };

/** Error texts are stored whole up to this many characters. */
const MAX_ERROR_CHARS = 4000;
/**
 * An error text Postgres will store: NUL (which `text` refuses) replaced, and
 * at most MAX_ERROR_CHARS characters.
 */
export function clipError(message: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = message.replace(/\u0000/g, '\uFFFD');
  return clean.length > MAX_ERROR_CHARS ? `${clean.slice(0, MAX_ERROR_CHARS - 1)}…` : clean;
}

/**
 * Every read and write of the `jobs` table. Each transition is one
 * conditional UPDATE: it names the states it may leave (from the state
 * machine) and, for a running attempt, the attempt's lease; when it matches no
 * row the transition did not happen and the caller learns it from `null`.
 * A transition that announces an event writes it in the same statement
 * (see job-event-sql.ts): one round trip, and events in the job's order.
 */
@Injectable()
export class JobsStore {
  /** Results up to this size ride along in their event; larger ones are left for GET /v1/jobs/:id. */
  readonly eventResultCap: number;
  /** The hot statements, prepared once per connection (see prepared.ts); also JobsBatchStore's. */
  readonly prepared: PreparedQueries;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectConfig() config: AppConfig,
  ) {
    this.eventResultCap = Math.max(0, Math.min(8192, config.MAX_MESSAGE_BYTES - 2048));
    this.prepared = new PreparedQueries(db);
  }

  /** The first row of a statement whose text is fixed (prepared: parsed and planned once per connection). */
  private async one<T = JobRow>(sql: string, params: unknown[]): Promise<T | null> {
    const rows = await this.prepared.rows<T>(sql, params);
    return rows[0] ?? null;
  }

  private async many<T = JobRow>(sql: string, params: unknown[]): Promise<T[]> {
    const result: unknown = await this.db.query(sql, params);
    return (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as T[];
  }

  /** Runs `update` (no RETURNING) and, when it matched, writes `event` in the same statement. */
  private transition(
    update: string,
    params: unknown[],
    event: JobEvent | null,
    returning = RUN_COLUMNS,
  ): Promise<Transitioned | null> {
    if (!event) return this.one(`${update} RETURNING ${returning}`, params);
    const cap = `$${params.length + 1}`;
    const sql = withEvent(
      `${update} RETURNING ${returning}, ${eventResultColumns(cap)}`,
      `$${params.length + 2}`,
    );
    return this.one(sql, [...params, this.eventResultCap, event]);
  }

  /**
   * Inserts the job; with an idempotency key its owner already used,
   * returns that owner's job instead. A new row comes back without payload
   * (the caller has it).
   */
  async insert(job: NewJob): Promise<{ row: JobRow; created: boolean }> {
    const row = await this.one(
      `INSERT INTO jobs (id, type, payload, max_attempts, priority, delay_ms, run_at, check_at, idempotency_key, owner)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6::bigint, now() + $6::bigint * interval '1 millisecond',
         now() + ($6::bigint + $8::bigint) * interval '1 millisecond', $7, $9)
       ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING ${RUN_COLUMNS}`,
      [
        job.id,
        job.type,
        JSON.stringify(job.payload ?? null),
        job.maxAttempts,
        job.priority,
        job.delayMs,
        job.idempotencyKey ?? null,
        job.checkAfterMs,
        job.owner,
      ],
    );
    if (row) return { row, created: true };
    const existing = job.idempotencyKey ? await this.byIdempotencyKey(job.owner, job.idempotencyKey) : null;
    if (!existing) throw new Error('idempotent insert found neither a new nor an existing row');
    return { row: existing, created: false };
  }

  /** The owner's job with this key (keys are per owner; null is open mode's owner-less key space). */
  byIdempotencyKey(owner: string | null, key: string): Promise<JobRow | null> {
    // Two statements rather than IS NOT DISTINCT FROM, which no index serves.
    return owner === null
      ? this.one(`SELECT ${JOB_COLUMNS} FROM jobs WHERE owner IS NULL AND idempotency_key = $1`, [key])
      : this.one(`SELECT ${JOB_COLUMNS} FROM jobs WHERE owner = $1 AND idempotency_key = $2`, [owner, key]);
  }

  /** The job, if `scope` reaches it (a job another owner holds reads as missing). */
  get(id: string, scope: JobScope = 'all'): Promise<JobRow | null> {
    const params: unknown[] = [id];
    return this.one(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1${ownerClause(scope, params)}`, params);
  }

  /** Who owns the job (null: open mode's), or undefined when there is no such job. */
  async ownerOf(id: string): Promise<string | null | undefined> {
    const row = await this.one<{ owner: string | null }>(`SELECT owner FROM jobs WHERE id = $1`, [id]);
    return row ? row.owner : undefined;
  }

  /**
   * Newest first, by the keyset (created_at, id); one more row than `limit`
   * tells whether more follow. One owner's list walks (owner, created_at, id).
   */
  list(filter: ListFilter): Promise<JobRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.scope !== 'all') {
      params.push(filter.scope.owner);
      where.push(`owner = $${params.length}`);
    }
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

  /**
   * Starts an attempt under a new lease that holds for `leaseMs` unless its
   * worker renews it: from queued, or from active once the previous
   * attempt's lease has expired (its worker stopped renewing: dead, not just
   * slow). Refused for a final job and for one with no attempts left. Writes
   * the `active` event. Answers the payload, which the handler needs.
   */
  activate(id: string, lease: string, leaseMs: number): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'active', lease = $2, attempts = attempts + 1, progress = 0,
         lease_expires_at = now() + $3::bigint * interval '1 millisecond',
         check_at = now() + 2 * $3::bigint * interval '1 millisecond',
         started_at = coalesce(started_at, now()), updated_at = now()
       WHERE id = $1 AND attempts < max_attempts
         AND (state = 'queued'
           OR (state = 'active' AND lease IS DISTINCT FROM $2
             AND (lease_expires_at IS NULL OR lease_expires_at < now())))`,
      [id, lease, leaseMs],
      'active',
      `payload, ${RUN_COLUMNS}`,
    );
  }

  progress(id: string, lease: string, progress: number): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET progress = $3, updated_at = now()
       WHERE id = $1 AND lease = $2 AND state = 'active'`,
      [id, lease, progress],
      'progress',
    );
  }

  complete(id: string, lease: string, resultJson: string): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'completed', progress = 100, result = $3::jsonb, error = NULL, lease = NULL,
         lease_expires_at = NULL, finished_at = now(), updated_at = now()
       WHERE id = $1 AND lease = $2 AND state = ANY($4)`,
      [id, lease, resultJson, fromStates('completed')],
      'completed',
    );
  }

  /** The attempt failed for good. */
  fail(id: string, lease: string, error: string): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'failed', error = $3, lease = NULL, lease_expires_at = NULL,
         finished_at = now(), updated_at = now()
       WHERE id = $1 AND lease = $2 AND state = 'active'`,
      [id, lease, clipError(error)],
      'failed',
    );
  }

  /**
   * The attempt failed and another one follows (BullMQ schedules it after
   * the backoff; the reconciler looks again `checkAfterMs` later).
   */
  retry(id: string, lease: string, error: string, checkAfterMs: number): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'queued', error = $3, lease = NULL, lease_expires_at = NULL, updated_at = now(),
         check_at = now() + $5::bigint * interval '1 millisecond'
       WHERE id = $1 AND lease = $2 AND state = ANY($4)`,
      [id, lease, clipError(error), fromStates('queued'), checkAfterMs],
      null,
    );
  }

  /** Gives the attempt back (worker shutting down): queued again, the attempt not counted. */
  requeue(id: string, lease: string): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'queued', lease = NULL, lease_expires_at = NULL,
         attempts = greatest(attempts - 1, 0), progress = 0, updated_at = now(), check_at = now()
       WHERE id = $1 AND lease = $2 AND state = ANY($3)`,
      [id, lease, fromStates('queued')],
      null,
    );
  }

  /** A pending job whose attempts are used up although none finished (its workers died): failed. */
  failExhausted(id: string, error: string): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'failed', error = $2, lease = NULL, lease_expires_at = NULL,
         finished_at = now(), updated_at = now()
       WHERE id = $1 AND state = ANY($3) AND attempts >= max_attempts
         AND (state = 'queued' OR lease_expires_at IS NULL OR lease_expires_at < now())`,
      [id, clipError(error), fromStates('failed')],
      'failed',
    );
  }

  /** A pending job BullMQ will never take (it refuses its options): failed, whatever its attempts. */
  failUnenqueueable(id: string, error: string): Promise<Transitioned | null> {
    return this.transition(
      `UPDATE jobs SET state = 'failed', error = $2, lease = NULL, lease_expires_at = NULL,
         finished_at = now(), updated_at = now()
       WHERE id = $1 AND state = ANY($3)`,
      [id, clipError(error), fromStates('failed')],
      'failed',
    );
  }

  /**
   * Cancels a pending job, writing its `cancelled` event in the same
   * statement (so nothing a worker writes later can follow it); also answers
   * the state it left, since a running job's worker must be told. Null when
   * the job is missing, out of `scope`, or already final.
   */
  async cancel(
    id: string,
    scope: JobScope = 'all',
  ): Promise<{ row: Transitioned; previous: JobState } | null> {
    const params: unknown[] = [id, fromStates('cancelled')];
    const owned = ownerClause(scope, params);
    const row = await this.transition(
      `UPDATE jobs SET state = 'cancelled', lease = NULL, lease_expires_at = NULL,
         finished_at = now(), updated_at = now()
       FROM (SELECT id AS locked_id, state AS previous FROM jobs WHERE id = $1${owned} FOR UPDATE) p
       WHERE jobs.id = p.locked_id AND p.previous = ANY($2)`,
      params,
      'cancelled',
      `${JOB_COLUMNS}, p.previous`,
    );
    if (!row) return null;
    const { previous, ...rest } = row as Transitioned & { previous: JobState };
    return { row: rest as Transitioned, previous };
  }

  /**
   * Renews the leases of these running attempts (the worker's heartbeat) and
   * answers the ones it could not renew, with the row's state: cancelled, or
   * taken over after the lease expired. One statement for all of them.
   */
  async heartbeat(
    runs: { id: string; lease: string }[],
    leaseMs: number,
  ): Promise<{ id: string; lease: string; state: JobState | null }[]> {
    if (runs.length === 0) return [];
    return this.prepared.rows(
      `WITH renewed AS (
         UPDATE jobs j SET lease_expires_at = now() + $3::bigint * interval '1 millisecond'
         FROM unnest($1::uuid[], $2::uuid[]) AS r(id, lease)
         WHERE j.id = r.id AND j.lease = r.lease AND j.state = 'active'
         RETURNING j.id
       )
       SELECT t.id::text AS id, t.lease::text AS lease, j.state
       FROM unnest($1::uuid[], $2::uuid[]) AS t(id, lease)
       LEFT JOIN jobs j ON j.id = t.id
       WHERE t.id NOT IN (SELECT id FROM renewed)`,
      [runs.map((r) => r.id), runs.map((r) => r.lease), leaseMs],
    );
  }

  /**
   * Claims pending rows that are due for a comparison with BullMQ, oldest
   * due first, and sets when each is due next, so reconcilers on several
   * workers take disjoint batches. A pass reads only due rows (index on
   * check_at). An active row under a live lease is only pushed to its lease's
   * expiry (its worker is alive); any other row is next due after as long as
   * it has already been quiet (between `minMs` and `maxMs`): a backlog that
   * waits in BullMQ for hours is looked at a few times, not every pass.
   */
  claimDue(types: string[], limit: number, minMs: number, maxMs: number): Promise<DueRow[]> {
    return this.many(
      `UPDATE jobs SET check_at = CASE
           WHEN state = 'active' AND lease_expires_at >= now() THEN lease_expires_at + $3::bigint * interval '1 millisecond'
           ELSE now() + least(greatest(now() - updated_at, $3::bigint * interval '1 millisecond'),
                              $4::bigint * interval '1 millisecond') END
       WHERE id IN (
         SELECT id FROM jobs
         WHERE state IN ('queued', 'active') AND check_at <= now() AND type = ANY($1)
         ORDER BY check_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING ${RUN_COLUMNS}, (state = 'active' AND lease_expires_at >= now()) AS live`,
      [types, limit, minMs, maxMs],
    );
  }

  /** Makes these rows due again (a pass that claimed them could not check them). */
  async dueNow(ids: string[]): Promise<void> {
    await this.db.query(
      `UPDATE jobs SET check_at = now() WHERE id = ANY($1::uuid[]) AND state IN ('queued', 'active')`,
      [ids],
    );
  }

  /**
   * Deletes finished jobs older than `seconds`, in batches, with their
   * `job:<id>` channel and its messages (the messages go with the channel,
   * ON DELETE CASCADE); returns how many jobs. Each batch reads the oldest
   * finished rows by index, so a pass costs what it deletes.
   */
  async deleteFinished(seconds: number, batch = 1000): Promise<number> {
    return deleteInBatches(batch, async (limit) => {
      const rows: { n: string }[] = await this.db.query(
        `WITH gone AS (
           DELETE FROM jobs WHERE id = ANY(ARRAY(
             SELECT id FROM jobs WHERE finished_at < now() - $1 * interval '1 second'
               AND state = ANY($2) ORDER BY finished_at LIMIT $3))
           RETURNING id
         ),
         channels_gone AS (
           DELETE FROM channels WHERE name IN (SELECT 'job:' || id FROM gone) RETURNING name
         )
         SELECT count(*)::text AS n FROM gone`,
        [seconds, FINAL_STATES, limit],
      );
      return Number(rows[0]?.n ?? 0);
    });
  }
}
