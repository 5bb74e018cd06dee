/**
 * SQL that writes a job's event to its `job:<id>` channel in the same
 * statement as the transition it announces. The transition's UPDATE is the
 * CTE `t` (one row or none); the row lock it takes is held until the message
 * is inserted, so the channel's seq order is the order of the job's
 * transitions, and a transition that did not happen (a stale lease, a job
 * already final) writes no event. Same tables and seq rule as the channels'
 * MessageStore (bump `channels.last_seq`, insert at the new value).
 */

/** The longest error text an event carries (the job's row keeps up to 4,000 characters). */
export const EVENT_ERROR_CHARS = 500;

const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Added to a transition's RETURNING: the result as the event carries it, only
 * when it is at most `capParam` bytes serialised, so every event has a bounded
 * size whatever the job holds (the payload is never in an event).
 */
export const eventResultColumns = (capParam: string) =>
  `CASE WHEN octet_length(result::text) <= ${capParam} THEN result END AS ev_result,
   (result IS NOT NULL AND octet_length(result::text) > ${capParam}) AS ev_result_omitted`;

/** The event's data, built from `t`. */
function eventJson(eventParam: string): string {
  return `json_build_object(
    'event', ${eventParam}::text,
    'attempt', t.attempts,
    'job', json_build_object(
      'id', t.id, 'type', t.type, 'state', t.state, 'progress', t.progress,
      'result', t.ev_result, 'error', left(t.error, ${EVENT_ERROR_CHARS}),
      'attempts', t.attempts, 'maxAttempts', t.max_attempts, 'priority', t.priority,
      'delayMs', t.delay_ms::bigint, 'idempotencyKey', t.idempotency_key,
      'owner', t.owner, 'createdAt', ${iso('t.created_at')}, 'startedAt', ${iso('t.started_at')},
      'finishedAt', ${iso('t.finished_at')}, 'updatedAt', ${iso('t.updated_at')}),
    'omitted', CASE WHEN t.ev_result_omitted THEN '["payload","result"]'::json ELSE '["payload"]'::json END)`;
}

/** The columns the event adds to a transition's answer. */
export interface EventColumns {
  ev_channel: string | null;
  ev_seq: string | null;
  ev_id: string | null;
  ev_data: string | null;
  ev_published_at: string | null;
}

/**
 * Wraps `update` (an UPDATE whose RETURNING includes RUN_COLUMNS and
 * {@link eventResultColumns}) so the same statement writes the event.
 * `eventParam` is a placeholder such as `$5` (or an expression of `t`). One
 * event per updated row: an UPDATE of many rows (jobs-batch.store.ts) writes
 * each row's event on its own channel, the channel rows locked in name order.
 */
export function withEvent(update: string, eventParam: string): string {
  return `WITH t AS (${update}),
    ch AS (
      INSERT INTO channels AS c (name, last_seq) SELECT 'job:' || t.id, 1 FROM t ORDER BY 1
      ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + 1
      RETURNING c.name, c.last_seq
    ),
    m AS (
      INSERT INTO messages (channel, seq, id, data)
      SELECT ch.name, ch.last_seq, gen_random_uuid(), ${eventJson(eventParam)}
      FROM t JOIN ch ON ch.name = 'job:' || t.id
      RETURNING channel AS ev_channel, seq::text AS ev_seq, id::text AS ev_id, data::text AS ev_data,
        ${iso('published_at')} AS ev_published_at
    )
    SELECT t.*, m.* FROM t LEFT JOIN m ON m.ev_channel = 'job:' || t.id`;
}
