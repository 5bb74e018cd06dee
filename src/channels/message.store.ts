import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { deleteInBatches } from '../infra/database/delete-in-batches.js';
import { InjectMetrics } from '../infra/metrics/metrics.js';
import type { Envelope } from './envelope.js';
import { GroupCommit, type PublishResult } from './group-commit.js';
import { ROW_COLUMNS, type Row, rowToEnvelope } from './message-rows.js';

export type { PublishResult };

/** Messages kept per `sys:` channel when no namespace setting says otherwise. */
export const SYS_HISTORY_KEPT = 100;

/**
 * Postgres is the source of truth for channels: a message exists, with its
 * seq, once its insert has committed, and before anyone is told about it.
 * Writes go through the group commit (group-commit.ts); reads and retention
 * are here.
 */
@Injectable()
export class MessageStore {
  private readonly commits: GroupCommit;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectConfig() config: AppConfig,
    @InjectMetrics() registry: Registry,
  ) {
    this.commits = new GroupCommit(db, config, registry);
  }

  /** Told of channels whose publishes may have committed unannounced (see GroupCommit). */
  set onOutcomeUnknown(handler: (channels: string[]) => void) {
    this.commits.onOutcomeUnknown = handler;
  }

  publish(channel: string, dataJson: string, idempotencyKey?: string): Promise<PublishResult> {
    return this.commits.publish(channel, dataJson, idempotencyKey);
  }

  /** Messages with `seq > after`, ascending, at most `limit`. */
  async history(channel: string, after: number, limit: number): Promise<Envelope[]> {
    const rows: Row[] = await this.db.query(
      `SELECT ${ROW_COLUMNS} FROM messages WHERE channel = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [channel, after, limit],
    );
    return rows.map((r) => rowToEnvelope(channel, r));
  }

  /** The channel's last seq (0 for a channel never written). */
  async lastSeq(channel: string): Promise<number> {
    const rows: { last_seq: string }[] = await this.db.query(
      'SELECT last_seq::text AS last_seq FROM channels WHERE name = $1',
      [channel],
    );
    return rows[0] ? Number(rows[0].last_seq) : 0;
  }

  /** Last seqs of many channels in one query (channels never written are absent). */
  async lastSeqs(channels: string[]): Promise<Map<string, number>> {
    if (channels.length === 0) return new Map();
    const rows: { name: string; last_seq: string }[] = await this.db.query(
      'SELECT name, last_seq::text AS last_seq FROM channels WHERE name = ANY($1)',
      [channels],
    );
    return new Map(rows.map((r) => [r.name, Number(r.last_seq)]));
  }

  /** The oldest retained seq, or null when nothing is retained. */
  async firstRetainedSeq(channel: string): Promise<number | null> {
    const rows: { first_seq: string }[] = await this.db.query(
      'SELECT seq::text AS first_seq FROM messages WHERE channel = $1 ORDER BY seq LIMIT 1',
      [channel],
    );
    return rows[0] ? Number(rows[0].first_seq) : null;
  }

  /**
   * History retention: keeps at most `maxPerChannel` newest messages per
   * channel and none older than `ttlSeconds` (0 disables either rule); a
   * namespace's own settings (the `namespaces` table) replace either default
   * for its channels. The channel rows, and so their seq counters, are never
   * deleted. Deletes in batches. Returns rows deleted.
   */
  async prune(options: { maxPerChannel: number; ttlSeconds: number; batch?: number }): Promise<number> {
    const batch = options.batch ?? 10_000;
    const overrides: { name: string; max: number | null; ttl: number | null }[] = await this.db.query(
      `SELECT name, history_max_per_channel AS max, history_ttl_seconds AS ttl FROM namespaces
       WHERE history_max_per_channel IS NOT NULL OR history_ttl_seconds IS NOT NULL`,
    );
    // The instances' own stats (sys:stats, every STATS_INTERVAL_MS) would grow
    // forever under "keep everything": keep the latest few unless the `sys`
    // namespace says otherwise.
    if (!overrides.some((o) => o.name === 'sys'))
      overrides.push({ name: 'sys', max: SYS_HISTORY_KEPT, ttl: null });
    // Channels of namespaces that set a rule follow theirs, the rest the default.
    const notOverridden = (column: string, channel: string) =>
      `NOT EXISTS (SELECT 1 FROM namespaces n WHERE n.${column} IS NOT NULL
         AND position(':' IN ${channel}) > 0 AND n.name = split_part(${channel}, ':', 1))`;
    // A namespace's channels are a range of the primary key: 'ns:' <= channel < 'ns;'.
    const inNamespace = (channel: string, param: number) =>
      `${channel} >= $${param} || ':' AND ${channel} < $${param} || ';'`;
    let total = 0;
    const ttl = (seconds: number, scope: string, params: unknown[]) =>
      seconds > 0
        ? deleteInBatches(batch, (limit) =>
            this.deleted(
              `DELETE FROM messages WHERE ctid = ANY(ARRAY(
                 SELECT m.ctid FROM messages m WHERE m.published_at < now() - make_interval(secs => $1)
                 AND ${scope} LIMIT $${params.length + 2}))`,
              [seconds, ...params, limit],
            ),
          )
        : 0;
    const max = (keep: number, scope: string, params: unknown[]) =>
      keep > 0
        ? deleteInBatches(batch, (limit) =>
            this.deleted(
              `DELETE FROM messages WHERE ctid = ANY(ARRAY(
                 SELECT m.ctid FROM messages m JOIN channels c ON c.name = m.channel
                 WHERE c.last_seq > $1 AND m.seq <= c.last_seq - $1 AND ${scope} LIMIT $${params.length + 2}))`,
              [keep, ...params, limit],
            ),
          )
        : 0;
    total += await ttl(options.ttlSeconds, notOverridden('history_ttl_seconds', 'm.channel'), []);
    total += await max(options.maxPerChannel, notOverridden('history_max_per_channel', 'c.name'), []);
    for (const ns of overrides) {
      if (ns.ttl !== null) total += await ttl(ns.ttl, inNamespace('m.channel', 2), [ns.name]);
      if (ns.max !== null) total += await max(ns.max, inNamespace('c.name', 2), [ns.name]);
    }
    return total;
  }

  /** Runs a DELETE; returns how many rows it removed. */
  private async deleted(sql: string, params: unknown[]): Promise<number> {
    const [, count]: [unknown[], number] = await this.db.query(sql, params);
    return count;
  }
}
