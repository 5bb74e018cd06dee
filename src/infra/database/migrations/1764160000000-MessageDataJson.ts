import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Message data as `json`, not `jsonb`: `json` keeps the text Squall checked
 * against MAX_MESSAGE_BYTES byte for byte. `jsonb` rewrote it (`1e308` comes
 * back as 309 digits, keys reordered), so a message within the limit could
 * grow many times over on delivery; Squall never queries inside `data`.
 */
export class MessageDataJson1764160000000 implements MigrationInterface {
  name = 'MessageDataJson1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "messages" ALTER COLUMN "data" TYPE json USING "data"::json`);
  }

  /** Fails on a message whose data jsonb refuses (a `\u0000` in a string). */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "messages" ALTER COLUMN "data" TYPE jsonb USING "data"::jsonb`);
  }
}
