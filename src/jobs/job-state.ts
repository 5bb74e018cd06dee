/**
 * The job state machine. Postgres enforces it: every transition is a
 * conditional UPDATE whose WHERE clause is built from {@link fromStates}, so a
 * transition that this table does not allow simply matches no row.
 */
export const JOB_STATES = ['queued', 'active', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** The events published on `job:<id>`; one per transition into active/completed/failed/cancelled, plus progress. */
export const JOB_EVENTS = ['active', 'progress', 'completed', 'failed', 'cancelled'] as const;
export type JobEvent = (typeof JOB_EVENTS)[number];

export const FINAL_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];
export const PENDING_STATES: readonly JobState[] = ['queued', 'active'];

/**
 * Allowed transitions. `active → active` is a takeover: another worker
 * activating a job whose previous worker stalled (a new lease fences the old
 * one out). `active → queued` is a retry after a failed attempt, or a job given
 * back at shutdown. `queued → failed` is a job whose last attempt was lost with
 * its worker. Final states have no way out.
 */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  queued: ['active', 'failed', 'cancelled'],
  active: ['active', 'queued', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Every state from which `to` may be entered: the `state = ANY(...)` of its UPDATE. */
export function fromStates(to: JobState): JobState[] {
  return JOB_STATES.filter((from) => canTransition(from, to));
}

/** The event announcing entry into `to`, if any (a retry back to `queued` announces nothing). */
export function eventFor(to: JobState): JobEvent | null {
  return to === 'queued' ? null : to;
}
