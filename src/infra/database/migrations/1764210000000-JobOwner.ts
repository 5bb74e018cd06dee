import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A job belongs to the token `sub` that submitted it (`owner`; null for jobs
 * submitted in open mode, and for every job older than this migration, which
 * only admins then see). Idempotency keys become per owner: two users who pick
 * the same key each get their own job. NULLS NOT DISTINCT (Postgres 15+)
 * keeps the owner-less jobs of open mode in one key space, as before.
 */
export class JobOwner1764210000000 implements MigrationInterface {
  name = 'JobOwner1764210000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "jobs" ADD COLUMN "owner" text`);
    // Keys were unique across all jobs, so they are unique per owner already.
    await q.query(`DROP INDEX "jobs_idempotency_key_uq"`);
    await q.query(
      `CREATE UNIQUE INDEX "jobs_owner_idempotency_key_uq" ON "jobs" ("owner", "idempotency_key")
         NULLS NOT DISTINCT WHERE idempotency_key IS NOT NULL`,
    );
    // A user's newest-first listing walks its own keyset (owner, created_at, id);
    // admins list through jobs_created_idx. Owner-less rows (open mode) stay out.
    await q.query(
      `CREATE INDEX "jobs_owner_created_idx" ON "jobs" ("owner", "created_at" DESC, "id" DESC)
         WHERE owner IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "jobs_owner_created_idx"`);
    await q.query(`DROP INDEX "jobs_owner_idempotency_key_uq"`);
    // Keys two owners shared cannot all stay: the older job keeps its key.
    await q.query(`
      UPDATE "jobs" j SET "idempotency_key" = NULL
      WHERE idempotency_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM "jobs" o WHERE o.idempotency_key = j.idempotency_key
          AND (o.created_at, o.id) < (j.created_at, j.id))`);
    await q.query(
      `CREATE UNIQUE INDEX "jobs_idempotency_key_uq" ON "jobs" ("idempotency_key") WHERE idempotency_key IS NOT NULL`,
    );
    await q.query(`ALTER TABLE "jobs" DROP COLUMN "owner"`);
  }
}
