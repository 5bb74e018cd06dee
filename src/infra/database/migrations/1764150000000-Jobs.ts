import { MigrationInterface, QueryRunner } from 'typeorm';

export class Jobs1764150000000 implements MigrationInterface {
  name = 'Jobs1764150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "jobs" (
        "id" uuid PRIMARY KEY,
        "type" varchar(64) NOT NULL,
        "state" varchar(16) NOT NULL DEFAULT 'queued'
          CONSTRAINT "jobs_state_ck" CHECK (state IN ('queued', 'active', 'completed', 'failed', 'cancelled')),
        "progress" smallint NOT NULL DEFAULT 0 CONSTRAINT "jobs_progress_ck" CHECK (progress BETWEEN 0 AND 100),
        "payload" jsonb NOT NULL,
        "result" jsonb,
        "error" text,
        "attempts" int NOT NULL DEFAULT 0,
        "max_attempts" int NOT NULL CONSTRAINT "jobs_max_attempts_ck" CHECK (max_attempts >= 1),
        "priority" int NOT NULL DEFAULT 0,
        "delay_ms" bigint NOT NULL DEFAULT 0,
        "idempotency_key" varchar(128),
        "lease" uuid,
        "enqueued_at" timestamptz,
        "checked_at" timestamptz,
        "final_event_pending" boolean NOT NULL DEFAULT false,
        "run_at" timestamptz NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "started_at" timestamptz,
        "finished_at" timestamptz,
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    // Newest-first listings, unfiltered or by state or type, walk a keyset (created_at, id).
    await q.query(`CREATE INDEX "jobs_created_idx" ON "jobs" ("created_at" DESC, "id" DESC)`);
    await q.query(`CREATE INDEX "jobs_state_created_idx" ON "jobs" ("state", "created_at" DESC, "id" DESC)`);
    await q.query(`CREATE INDEX "jobs_type_created_idx" ON "jobs" ("type", "created_at" DESC, "id" DESC)`);
    await q.query(
      `CREATE UNIQUE INDEX "jobs_idempotency_key_uq" ON "jobs" ("idempotency_key") WHERE idempotency_key IS NOT NULL`,
    );
    // The reconciler's work lists stay small, so their partial indexes do too.
    await q.query(
      `CREATE INDEX "jobs_unenqueued_idx" ON "jobs" ("created_at") WHERE state = 'queued' AND enqueued_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX "jobs_pending_check_idx" ON "jobs" ("checked_at" NULLS FIRST) WHERE state IN ('queued', 'active')`,
    );
    await q.query(`CREATE INDEX "jobs_final_event_idx" ON "jobs" ("finished_at") WHERE final_event_pending`);
    await q.query(`CREATE INDEX "jobs_finished_idx" ON "jobs" ("finished_at") WHERE finished_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "jobs"`);
  }
}
