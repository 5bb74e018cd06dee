import { MigrationInterface, QueryRunner } from 'typeorm';

export class Channels1764140000000 implements MigrationInterface {
  name = 'Channels1764140000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "channels" (
        "name" varchar(128) PRIMARY KEY,
        "last_seq" bigint NOT NULL DEFAULT 0,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE "messages" (
        "channel" varchar(128) NOT NULL REFERENCES "channels"("name") ON DELETE CASCADE,
        "seq" bigint NOT NULL,
        "id" uuid NOT NULL,
        "data" jsonb NOT NULL,
        "idempotency_key" varchar(128),
        "published_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("channel", "seq"),
        CONSTRAINT "messages_id_uq" UNIQUE ("id")
      )`);
    await q.query(
      `CREATE UNIQUE INDEX "messages_idempotency_key_uq" ON "messages" ("channel", "idempotency_key") WHERE idempotency_key IS NOT NULL`,
    );
    await q.query(`CREATE INDEX "messages_published_at_idx" ON "messages" ("published_at")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "messages"`);
    await q.query(`DROP TABLE "channels"`);
  }
}
