import { Injectable } from '@nestjs/common';
import { AppError } from '../infra/errors/app-error.js';
import { Batcher } from '../lib/batcher.js';
import { type JobRow, RUN_COLUMNS } from './job.js';
import { eventResultColumns, withEvent } from './job-event-sql.js';
import { type JobEvent, fromStates } from './job-state.js';
import { JobsStore, type NewJob, type Transitioned } from './jobs.store.js';

/** Statements of one kind running at once; more calls queue and go together in the next one. */
const IN_FLIGHT = 2;
/** Most transitions in one statement. */
const MAX_ITEMS = 128;
/** Most submits waiting for their INSERT (a worker's transitions are bounded by its concurrency). */
const MAX_QUEUED_INSERTS = 5000;

interface Item {
  id: string;
  lease: string;
  /** The per-row value: the new progress, or the result's JSON text; unused by activation. */
  value: string | null;
  /** Activation only: how long the new lease holds (one value per process; a batch shares it). */
  leaseMs?: number;
}

/** A transition of many rows, each fenced like its one-row form, each row with its own event. */
interface Kind {
  event: JobEvent;
  /** An UPDATE of `jobs` FROM the locked input `b` (b_id, b_lease, b_value), without RETURNING. */
  update: string;
  /** Extra parameters after the three input arrays, from the batch's first item. */
  params(first: Item): unknown[];
  returning: string;
  /** Which returned row answers the item (by id, and by lease for activation). */
  matches(item: Item, row: Transitioned): boolean;
  /** The one-row form, for a batch of one and the one-by-one redo. */
  one(item: Item): Promise<Transitioned | null>;
}

const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
  promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

/**
 * SQLSTATE classes after which Postgres rolled the whole statement back:
 * data exception (22: a result jsonb refuses), integrity (23), transaction
 * rollback such as a deadlock (40). Then nothing committed and each item can
 * be redone alone, so one bad row never fails its neighbours.
 */
function isRolledBack(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : e.driverError?.code;
  return typeof code === 'string' && /^(22|23|40)[0-9A-Z]{3}$/.test(code) && code !== '40003';
}

/**
 * The hot transitions of a running attempt (activate, progress, complete),
 * group-committed like channel publishes (src/channels/group-commit.ts):
 * while a statement of a kind runs, the calls that arrive wait and the next
 * statement carries them all. Each row keeps exactly the fence of its
 * one-row form in {@link JobsStore} (state, attempts, lease) and its event is
 * written in the same statement, so a batch changes nothing about what may
 * happen to a job, only how many round trips and commits it takes. An idle
 * worker still writes each transition at once, with the one-row statement.
 *
 * Rows are locked in id order (`ORDER BY … FOR UPDATE` before the UPDATE), so
 * two batches cannot deadlock on each other; should a statement fail and
 * roll back anyway (a deadlock with another multi-row statement, a value
 * Postgres refuses), its items are redone one by one with the one-row form.
 */
@Injectable()
export class JobsBatchStore {
  private readonly activations: Batcher<Item, Transitioned | null>;
  private readonly progresses: Batcher<Item, Transitioned | null>;
  private readonly completions: Batcher<Item, Transitioned | null>;
  private readonly inserts: Batcher<NewJob, { row: JobRow; created: boolean }>;

  constructor(private readonly store: JobsStore) {
    const batcher = (kind: Kind) =>
      new Batcher<Item, Transitioned | null>((items) => this.run(kind, items), {
        maxInFlight: IN_FLIGHT,
        maxItems: MAX_ITEMS,
      });
    this.activations = batcher(this.activation);
    this.progresses = batcher(this.progression);
    this.completions = batcher(this.completion);
    this.inserts = new Batcher((jobs) => this.insertMany(jobs), {
      maxInFlight: IN_FLIGHT,
      maxItems: MAX_ITEMS,
      // Submits arrive from clients, unbounded: past this many waiting (a
      // slow Postgres), a submit is answered 503 at once instead of queued.
      maxQueued: MAX_QUEUED_INSERTS,
      queueFull: () =>
        new AppError('unavailable', 'too many submits waiting for the database; retry shortly', 1),
    });
  }

  /** {@link JobsStore.insert}, batched: concurrent submits share one INSERT. */
  insert(job: NewJob): Promise<{ row: JobRow; created: boolean }> {
    return this.inserts.submit(job);
  }

  /**
   * One INSERT for many new jobs. A job not inserted (its idempotency key is
   * taken, maybe by another job of this batch) and every job of a statement
   * that rolled back (a payload Postgres refuses) goes through the one-row
   * insert, which answers the existing job or the job's own error.
   */
  private async insertMany(
    jobs: NewJob[],
  ): Promise<PromiseSettledResult<{ row: JobRow; created: boolean }>[]> {
    if (jobs.length === 1) return [await settle(this.store.insert(jobs[0]))];
    let rows: JobRow[] | undefined;
    try {
      rows = await this.store.prepared.rows<JobRow>(
        `INSERT INTO jobs (id, type, payload, max_attempts, priority, delay_ms, run_at, check_at, idempotency_key, owner)
         SELECT i.id, i.type, i.payload::jsonb, i.max_attempts, i.priority, i.delay_ms,
           now() + i.delay_ms * interval '1 millisecond',
           now() + (i.delay_ms + i.check_after) * interval '1 millisecond', i.idempotency_key, i.owner
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[], $7::text[],
           $8::bigint[], $9::text[]) WITH ORDINALITY
           AS i(id, type, payload, max_attempts, priority, delay_ms, idempotency_key, check_after, owner, ord)
         ORDER BY i.ord
         ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING ${RUN_COLUMNS}`,
        [
          jobs.map((j) => j.id),
          jobs.map((j) => j.type),
          jobs.map((j) => JSON.stringify(j.payload ?? null)),
          jobs.map((j) => j.maxAttempts),
          jobs.map((j) => j.priority),
          jobs.map((j) => j.delayMs),
          jobs.map((j) => j.idempotencyKey ?? null),
          jobs.map((j) => j.checkAfterMs),
          jobs.map((j) => j.owner),
        ],
      );
    } catch (err) {
      if (!isRolledBack(err)) throw err;
    }
    const byId = new Map((rows ?? []).map((r) => [r.id, r]));
    return Promise.all(
      jobs.map(async (job) => {
        const row = byId.get(job.id);
        if (row) return { status: 'fulfilled', value: { row, created: true } } as const;
        return settle(this.store.insert(job));
      }),
    );
  }

  /** {@link JobsStore.activate}, batched. */
  activate(id: string, lease: string, leaseMs: number): Promise<Transitioned | null> {
    return this.activations.submit({ id, lease, value: null, leaseMs });
  }

  /** {@link JobsStore.progress}, batched. */
  progress(id: string, lease: string, progress: number): Promise<Transitioned | null> {
    return this.progresses.submit({ id, lease, value: String(progress) });
  }

  /** {@link JobsStore.complete}, batched. */
  complete(id: string, lease: string, resultJson: string): Promise<Transitioned | null> {
    return this.completions.submit({ id, lease, value: resultJson });
  }

  private readonly activation: Kind = {
    event: 'active',
    update: `UPDATE jobs SET state = 'active', lease = b.b_lease, attempts = attempts + 1, progress = 0,
          lease_expires_at = now() + $4::bigint * interval '1 millisecond',
          check_at = now() + 2 * $4::bigint * interval '1 millisecond',
          started_at = coalesce(started_at, now()), updated_at = now()
        FROM ${LOCKED} b
        WHERE jobs.id = b.b_id AND attempts < max_attempts
          AND (state = 'queued'
            OR (state = 'active' AND lease IS DISTINCT FROM b.b_lease
              AND (lease_expires_at IS NULL OR lease_expires_at < now())))`,
    params: (first) => [first.leaseMs],
    returning: `payload, ${RUN_COLUMNS}`,
    matches: (item, row) => row.id === item.id && row.lease === item.lease,
    one: (item) => this.store.activate(item.id, item.lease, item.leaseMs!),
  };

  private readonly progression: Kind = {
    event: 'progress',
    update: `UPDATE jobs SET progress = b.b_value::int, updated_at = now()
      FROM ${LOCKED} b
      WHERE jobs.id = b.b_id AND jobs.lease = b.b_lease AND state = 'active'`,
    params: () => [],
    returning: RUN_COLUMNS,
    matches: (item, row) => row.id === item.id,
    one: (item) => this.store.progress(item.id, item.lease, Number(item.value)),
  };

  private readonly completion: Kind = {
    event: 'completed',
    update: `UPDATE jobs SET state = 'completed', progress = 100, result = b.b_value::jsonb, error = NULL,
        lease = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
      FROM ${LOCKED} b
      WHERE jobs.id = b.b_id AND jobs.lease = b.b_lease AND state = ANY($4)`,
    params: () => [fromStates('completed')],
    returning: RUN_COLUMNS,
    matches: (item, row) => row.id === item.id,
    one: (item) => this.store.complete(item.id, item.lease, item.value!),
  };

  private async run(kind: Kind, items: Item[]): Promise<PromiseSettledResult<Transitioned | null>[]> {
    if (items.length === 1) return [await settle(kind.one(items[0]))];
    // The same job twice in a batch (a duplicate delivery), or another lease
    // length: the first goes in the statement, the others alone after it, as
    // they would have without batching.
    const seen = new Set<string>();
    const first: number[] = [];
    const later: number[] = [];
    items.forEach((item, i) => {
      (seen.has(item.id) || item.leaseMs !== items[0].leaseMs ? later : first).push(i);
      seen.add(item.id);
    });
    const results: PromiseSettledResult<Transitioned | null>[] = new Array(items.length);
    const batch = first.map((i) => items[i]);
    let rows: Transitioned[] | undefined;
    try {
      rows = await this.many(kind, batch);
    } catch (err) {
      if (!isRolledBack(err)) throw err;
    }
    if (rows) {
      first.forEach((i) => {
        const row = rows.find((r) => kind.matches(items[i], r)) ?? null;
        results[i] = { status: 'fulfilled', value: row };
      });
    } else {
      for (const i of first) results[i] = await settle(kind.one(items[i]));
    }
    for (const i of later) results[i] = await settle(kind.one(items[i]));
    return results;
  }

  private async many(kind: Kind, items: Item[]): Promise<Transitioned[]> {
    const params = kind.params(items[0]);
    const cap = `$${4 + params.length}`;
    const sql = withEvent(
      `${kind.update} RETURNING ${kind.returning}, ${eventResultColumns(cap)}`,
      `$${5 + params.length}`,
    );
    return this.store.prepared.rows<Transitioned>(sql, [
      items.map((i) => i.id),
      items.map((i) => i.lease),
      items.map((i) => i.value),
      ...params,
      this.store.eventResultCap,
      kind.event,
    ]);
  }
}

/**
 * The input rows joined to their jobs, locked in id order: every multi-row
 * transition takes its row locks in the same order, so they cannot deadlock.
 * The arrays are read through sub-selects so that the planner cannot see
 * their length: its estimate is then the same for every batch, the prepared
 * statement's generic plan is as good as a custom one, and Postgres stops
 * planning the statement on each call (with the arrays visible it planned
 * every batch again, which cost as much as running it).
 */
const LOCKED = `(SELECT j.id AS b_id, i.lease AS b_lease, i.value AS b_value
    FROM unnest((SELECT $1::uuid[]), (SELECT $2::uuid[]), (SELECT $3::text[])) AS i(id, lease, value)
    JOIN jobs j ON j.id = i.id ORDER BY j.id FOR UPDATE OF j)`;
