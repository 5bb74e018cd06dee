import { randomUUID } from 'node:crypto';
import { Histogram, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../infra/config/app-config.js';
import { AppError } from '../infra/errors/app-error.js';
import { Batcher } from '../lib/batcher.js';
import type { Envelope } from './envelope.js';
import { type CreatedRow, ROW_COLUMNS, type Row, rowToEnvelope } from './message-rows.js';

const IDEMPOTENCY_CONSTRAINT = 'messages_idempotency_key_uq';

const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
  promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

interface PublishRequest {
  channel: string;
  id: string;
  dataJson: string;
  idempotencyKey?: string;
}

/**
 * SQLSTATE classes after which Postgres has rolled the statement back for
 * certain: data exception (22), integrity violation (23), transaction
 * rollback such as a deadlock (40), except 40003, statement_completion_unknown.
 */
function isRolledBack(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : e.driverError?.code;
  return typeof code === 'string' && /^(22|23|40)[0-9A-Z]{3}$/.test(code) && code !== '40003';
}

/**
 * After these errors the publish may or may not have committed: the
 * connection broke, or Postgres went away, mid-statement. A statement that
 * Postgres itself cancelled (57014, statement timeout) did not commit.
 */
function isOutcomeUnknown(err: unknown): boolean {
  if (err instanceof AppError || isRolledBack(err)) return false;
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  return (e.code ?? e.driverError?.code) !== '57014';
}

export interface PublishResult {
  envelope: Envelope;
  /** False when the idempotency key had been used: the envelope is the original. */
  created: boolean;
}

/**
 * Publishes go through a group commit: while a few statements are running,
 * the publishes that arrive queue up and the next statement commits them
 * all, so under load one round trip and one commit serve many publishers,
 * and an idle system still commits each publish at once. Each publish is
 * settled on its own: one bad message never fails its neighbours.
 */
export class GroupCommit {
  private readonly batcher: Batcher<PublishRequest, PublishResult>;
  /**
   * Told of channels whose publishes failed in a way that may still have
   * committed them (their publishers got an error): nobody announced those
   * messages, so hubs should read them from Postgres now.
   */
  onOutcomeUnknown: (channels: string[]) => void = () => {};

  constructor(
    private readonly db: DataSource,
    config: AppConfig,
    registry: Registry,
  ) {
    const batchSize = new Histogram({
      name: 'squall_publish_batch_size',
      help: 'Messages committed per publish statement (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    });
    this.batcher = new Batcher((reqs) => (batchSize.observe(reqs.length), this.commit(reqs)), {
      maxInFlight: config.PUBLISH_CONCURRENCY,
      maxItems: 256,
      // In characters, a cheap stand-in for bytes: it only bounds a statement's size.
      maxWeight: 4 * 1024 * 1024,
      weigh: (r) => r.dataJson.length,
      maxQueued: config.PUBLISH_QUEUE_MAX,
      maxQueuedWeight: config.PUBLISH_QUEUE_MAX_BYTES,
      queueFull: () =>
        new AppError('unavailable', 'too many publishes waiting for the database; retry shortly', 1),
    });
  }

  publish(channel: string, dataJson: string, idempotencyKey?: string): Promise<PublishResult> {
    return this.batcher.submit({ channel, id: randomUUID(), dataJson, idempotencyKey });
  }

  private async commit(reqs: PublishRequest[]): Promise<PromiseSettledResult<PublishResult>[]> {
    let results: PromiseSettledResult<PublishResult>[];
    try {
      results = await this.commitBatch(reqs);
    } catch (err) {
      if (isOutcomeUnknown(err)) this.onOutcomeUnknown([...new Set(reqs.map((r) => r.channel))]);
      throw err;
    }
    const unsure = new Set<string>();
    results.forEach((r, i) => {
      if (r.status === 'rejected' && isOutcomeUnknown(r.reason)) unsure.add(reqs[i].channel);
    });
    if (unsure.size > 0) this.onOutcomeUnknown([...unsure]);
    return results;
  }

  private async commitBatch(reqs: PublishRequest[]): Promise<PromiseSettledResult<PublishResult>[]> {
    if (reqs.length > 1) {
      let rows: CreatedRow[] | undefined;
      try {
        rows = await this.insertMany(reqs);
      } catch (err) {
        // A key reused within the batch or by a concurrent publish, or a value
        // Postgres refuses, fails the whole statement, which then committed
        // nothing: redo the batch one message at a time, in arrival order, so
        // only the offending one fails. Any other error (the connection
        // dropped: did it commit?) is not retried.
        if (!isRolledBack(err)) throw err;
      }
      // Committed: from here on nothing may send the batch to the redo below.
      if (rows) return this.answerBatch(reqs, rows);
    }
    const results: PromiseSettledResult<PublishResult>[] = [];
    for (const r of reqs) results.push(await settle(this.publishOne(r)));
    return results;
  }

  /**
   * One statement, one round trip: bump the channel's counter (the row lock
   * serialises publishers per channel, so seqs commit in order and without
   * gaps) and insert the message. A reused idempotency key violates the unique
   * index, the whole statement rolls back (no seq is burned), and the original
   * message is returned instead.
   */
  private async publishOne({
    channel,
    id,
    dataJson,
    idempotencyKey,
  }: PublishRequest): Promise<PublishResult> {
    try {
      const rows: Row[] = await this.db.query(
        `WITH ch AS (
           INSERT INTO channels AS c (name, last_seq) VALUES ($1, 1)
           ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + 1
           RETURNING last_seq
         )
         INSERT INTO messages (channel, seq, id, data, idempotency_key)
         SELECT $1, ch.last_seq, $2, $3::json, $4 FROM ch
         RETURNING ${ROW_COLUMNS}`,
        [channel, id, dataJson, idempotencyKey ?? null],
      );
      return { envelope: rowToEnvelope(channel, rows[0]), created: true };
    } catch (err) {
      const e = err as { code?: string; constraint?: string; driverError?: { constraint?: string } };
      const constraint = e.constraint ?? e.driverError?.constraint;
      if (idempotencyKey && e.code === '23505' && constraint === IDEMPOTENCY_CONSTRAINT) {
        const rows: Row[] = await this.db.query(
          `SELECT ${ROW_COLUMNS} FROM messages WHERE channel = $1 AND idempotency_key = $2`,
          [channel, idempotencyKey],
        );
        if (rows[0]) return { envelope: rowToEnvelope(channel, rows[0]), created: false };
      }
      throw err;
    }
  }

  /**
   * Many messages, possibly on many channels, in one statement: each channel's
   * counter is bumped once by its number of messages, and they take the seqs
   * below the new value in arrival order. Channel rows are locked in name
   * order, the same order in every statement, so concurrent batches cannot
   * deadlock. Messages whose idempotency key is already used are left out of
   * the insert and answered with the original, so a replay (a client retry,
   * a job event sent twice) does not push the whole batch to the slow path.
   */
  private insertMany(reqs: PublishRequest[]): Promise<CreatedRow[]> {
    return this.db.query(
      `WITH input AS (
         SELECT * FROM unnest($1::varchar[], $2::uuid[], $3::text[], $4::varchar[])
           WITH ORDINALITY AS t(channel, id, data, idempotency_key, ord)
         WHERE t.idempotency_key IS NULL OR NOT EXISTS (
           SELECT 1 FROM messages m WHERE m.channel = t.channel AND m.idempotency_key = t.idempotency_key)
       ),
       counts AS (SELECT channel, count(*) AS n FROM input GROUP BY channel),
       ch AS (
         INSERT INTO channels AS c (name, last_seq)
         SELECT channel, n FROM counts ORDER BY channel
         ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq
         RETURNING c.name, c.last_seq
       )
       INSERT INTO messages (channel, seq, id, data, idempotency_key)
       SELECT i.channel,
              ch.last_seq - counts.n + row_number() OVER (PARTITION BY i.channel ORDER BY i.ord),
              i.id, i.data::json, i.idempotency_key
       FROM input i JOIN counts USING (channel) JOIN ch ON ch.name = i.channel
       RETURNING channel, ${ROW_COLUMNS}`,
      [
        reqs.map((r) => r.channel),
        reqs.map((r) => r.id),
        reqs.map((r) => r.dataJson),
        reqs.map((r) => r.idempotencyKey ?? null),
      ],
    );
  }

  /** Answers each message of a committed batch: created, or replayed from its original. */
  private async answerBatch(
    reqs: PublishRequest[],
    rows: CreatedRow[],
  ): Promise<PromiseSettledResult<PublishResult>[]> {
    const byId = new Map(rows.map((row) => [row.id, row]));
    const replays = settle(this.originals(reqs.filter((r) => !byId.has(r.id))));
    return Promise.all(
      reqs.map(async (r): Promise<PromiseSettledResult<PublishResult>> => {
        const answer = (row: Row, created: boolean) =>
          ({ status: 'fulfilled', value: { envelope: rowToEnvelope(r.channel, row), created } }) as const;
        const row = byId.get(r.id);
        if (row) return answer(row, true);
        const found = await replays;
        if (found.status === 'rejected') return found;
        const original = found.value.get(`${r.channel}\n${r.idempotencyKey}`);
        if (original) return answer(original, false);
        // Pruned by retention since the statement's snapshot: publish it alone.
        return settle(this.publishOne(r));
      }),
    );
  }

  /** The messages that first used these requests' idempotency keys, by channel and key. */
  private async originals(reqs: PublishRequest[]): Promise<Map<string, Row>> {
    if (reqs.length === 0) return new Map();
    const rows: (Row & { channel: string; idempotency_key: string })[] = await this.db.query(
      `SELECT channel, idempotency_key, ${ROW_COLUMNS} FROM messages
       WHERE (channel, idempotency_key) IN (SELECT * FROM unnest($1::varchar[], $2::varchar[]))`,
      [reqs.map((r) => r.channel), reqs.map((r) => r.idempotencyKey ?? null)],
    );
    return new Map(rows.map((row) => [`${row.channel}\n${row.idempotency_key}`, row]));
  }
}
