import { MigrationInterface, QueryRunner } from 'typeorm';
import { RUN_COLUMNS } from '../../../jobs/job.js';
import { eventResultColumns, withEvent } from '../../../jobs/job-event-sql.js';

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
    await q.query(
      withEvent(
        `UPDATE jobs SET updated_at = updated_at
         WHERE final_event_pending AND state IN ('completed', 'failed', 'cancelled')
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.channel = 'job:' || jobs.id AND m.idempotency_key = jobs.state)
         RETURNING ${RUN_COLUMNS}, ${eventResultColumns('8192')}`,
        't.state',
      ),
    );
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
