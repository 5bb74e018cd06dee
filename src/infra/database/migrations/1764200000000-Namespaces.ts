import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Namespaces1764200000000 implements MigrationInterface {
  name = 'Namespaces1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "namespaces" (
        "id" uuid NOT NULL,
        "name" varchar(64) NOT NULL,
        "client_publish" boolean NOT NULL DEFAULT true,
        "history_max_per_channel" integer,
        "history_ttl_seconds" integer,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "namespaces_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "namespaces_name_key" UNIQUE ("name"),
        CONSTRAINT "namespaces_history_max_per_channel_check" CHECK ("history_max_per_channel" >= 0),
        CONSTRAINT "namespaces_history_ttl_seconds_check" CHECK ("history_ttl_seconds" >= 0)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "namespaces"`);
  }
}
