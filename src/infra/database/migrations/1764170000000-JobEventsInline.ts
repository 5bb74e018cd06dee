import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Job events are written in the same statement as the transition they
 * announce, so nothing is ever "owed" (final_event_pending goes), and the
 * reconciler works from one due time per pending row (check_at) instead of
 * three work lists (enqueued_at, checked_at, final_event_pending). A running
 * attempt's lease now expires (lease_expires_at) unless its worker renews it.
 */
export class JobEventsInline1764170000000 implements MigrationInterface {
  name = 'JobEventsInline1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS "jobs_unenqueued_idx"`);
    await q.query(`DROP INDEX IF EXISTS "jobs_pending_check_idx"`);
    await q.query(`DROP INDEX IF EXISTS "jobs_final_event_idx"`);
    await q.query(
      `ALTER TABLE "jobs" ADD COLUMN "check_at" timestamptz NOT NULL DEFAULT now(), ADD COLUMN "lease_expires_at" timestamptz`,
    );
    // Final events still owed under the old scheme are written now, in the new shape
    // (unless the old publisher got the message out and only failed to say so).
    // The SQL is frozen here as src/jobs/job-event-sql.ts wrote it at the time:
    // a migration must do the same thing forever, whatever that file becomes.
    await q.query(`
WITH t AS (UPDATE jobs SET updated_at = updated_at
         WHERE final_event_pending AND state IN ('completed', 'failed', 'cancelled')
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.channel = 'job:' || jobs.id AND m.idempotency_key = jobs.state)
         RETURNING id, type, state, progress, error, attempts, max_attempts, priority,
  delay_ms::text AS delay_ms, idempotency_key, lease, lease_expires_at, run_at, created_at, started_at,
  finished_at, updated_at, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us, CASE WHEN octet_length(result::text) <= 8192 THEN result END AS ev_result,
   (result IS NOT NULL AND octet_length(result::text) > 8192) AS ev_result_omitted),
    ch AS (
      INSERT INTO channels AS c (name, last_seq) SELECT 'job:' || t.id, 1 FROM t
      ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + 1
      RETURNING c.name, c.last_seq
    ),
    m AS (
      INSERT INTO messages (channel, seq, id, data)
      SELECT ch.name, ch.last_seq, gen_random_uuid(), json_build_object(
    'event', t.state::text,
    'attempt', t.attempts,
    'job', json_build_object(
      'id', t.id, 'type', t.type, 'state', t.state, 'progress', t.progress,
      'result', t.ev_result, 'error', left(t.error, 500),
      'attempts', t.attempts, 'maxAttempts', t.max_attempts, 'priority', t.priority,
      'delayMs', t.delay_ms::bigint, 'idempotencyKey', t.idempotency_key,
      'createdAt', to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'startedAt', to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'finishedAt', to_char(t.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    'omitted', CASE WHEN t.ev_result_omitted THEN '["payload","result"]'::json ELSE '["payload"]'::json END)
      FROM t JOIN ch ON ch.name = 'job:' || t.id
      RETURNING channel AS ev_channel, seq::text AS ev_seq, id::text AS ev_id, data::text AS ev_data,
        to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ev_published_at
    )
    SELECT t.*, m.* FROM t LEFT JOIN m ON true`);
    await q.query(
      `ALTER TABLE "jobs" DROP COLUMN "enqueued_at", DROP COLUMN "checked_at", DROP COLUMN "final_event_pending"`,
    );
    // Only pending rows are indexed, by when they are next due: a pass reads what is due, nothing else.
    await q.query(
      `CREATE INDEX "jobs_check_due_idx" ON "jobs" ("check_at") WHERE state IN ('queued', 'active')`,
    );
    // Progress rewrites the row often; room on the page lets those updates be HOT.
    await q.query(`ALTER TABLE "jobs" SET (fillfactor = 85)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "jobs" RESET (fillfactor)`);
    await q.query(`DROP INDEX IF EXISTS "jobs_check_due_idx"`);
    await q.query(
      `ALTER TABLE "jobs" ADD COLUMN "enqueued_at" timestamptz, ADD COLUMN "checked_at" timestamptz,
         ADD COLUMN "final_event_pending" boolean NOT NULL DEFAULT false`,
    );
    await q.query(`UPDATE "jobs" SET "enqueued_at" = created_at`);
    await q.query(`ALTER TABLE "jobs" DROP COLUMN "check_at", DROP COLUMN "lease_expires_at"`);
    await q.query(
      `CREATE INDEX "jobs_unenqueued_idx" ON "jobs" ("created_at") WHERE state = 'queued' AND enqueued_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX "jobs_pending_check_idx" ON "jobs" ("checked_at" NULLS FIRST) WHERE state IN ('queued', 'active')`,
    );
    await q.query(`CREATE INDEX "jobs_final_event_idx" ON "jobs" ("finished_at") WHERE final_event_pending`);
  }
}
