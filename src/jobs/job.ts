import { AppError } from '../infra/errors/app-error.js';
import type { JobState } from './job-state.js';

/** A job as every API answers it and every `job:<id>` event carries it. */
export interface Job {
  id: string;
  type: string;
  state: JobState;
  progress: number;
  payload: unknown;
  result: unknown;
  error: string | null;
  /** Attempts started so far (the current one included while active). */
  attempts: number;
  maxAttempts: number;
  priority: number;
  delayMs: number;
  idempotencyKey: string | null;
  /** The token `sub` that submitted it; null for a job submitted in open mode. */
  owner: string | null;
  createdAt: string;
  /** When the job first became active. */
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

/**
 * A `jobs` row as {@link JOB_COLUMNS} selects it. Transitions return
 * {@link RUN_COLUMNS}, without `payload` and `result` (never needed after the
 * write, and up to MAX_MESSAGE_BYTES each): those two are then undefined.
 */
export interface JobRow {
  id: string;
  type: string;
  state: JobState;
  progress: number;
  payload?: unknown;
  result?: unknown;
  error: string | null;
  attempts: number;
  max_attempts: number;
  priority: number;
  delay_ms: string;
  idempotency_key: string | null;
  owner: string | null;
  lease: string | null;
  /** Until when the running attempt's lease holds unless renewed. */
  lease_expires_at: Date | null;
  run_at: Date;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  /** created_at in microseconds since the epoch, exact: the keyset cursor. */
  created_us: string;
}

/** Everything but payload and result. */
export const RUN_COLUMNS = `id, type, state, progress, error, attempts, max_attempts, priority,
  delay_ms::text AS delay_ms, idempotency_key, owner, lease, lease_expires_at, run_at, created_at, started_at,
  finished_at, updated_at, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us`;

export const JOB_COLUMNS = `payload, result, ${RUN_COLUMNS}`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    progress: row.progress,
    payload: row.payload ?? null,
    result: row.result ?? null,
    error: row.error,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    delayMs: Number(row.delay_ms),
    idempotencyKey: row.idempotency_key,
    owner: row.owner,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Whose jobs a read or a cancel may reach: every job (admins, open mode,
 * the application's own code) or one owner's. `{ owner: null }` reaches
 * none: a caller without a `sub` owns nothing.
 */
export type JobScope = 'all' | { readonly owner: string | null };

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A keyset position in the newest-first listing: (created_at, id) of the last job returned. */
export interface Cursor {
  createdUs: string;
  id: string;
}

export function encodeCursor(row: Pick<JobRow, 'created_us' | 'id'>): string {
  return Buffer.from(`${row.created_us}.${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): Cursor {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const match = /^(\d{1,20})\.([0-9a-f-]{36})$/i.exec(text);
  if (!match || !UUID.test(match[2])) {
    throw new AppError('bad_request', 'cursor is not a cursor this API returned');
  }
  return { createdUs: match[1], id: match[2].toLowerCase() };
}
