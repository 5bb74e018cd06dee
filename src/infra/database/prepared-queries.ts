import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** The part of pg's Pool used here (TypeORM's Postgres driver keeps one as `master`). */
interface PgPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs hot statements (the jobs' transitions) as named prepared statements, straight on
 * the pool TypeORM holds. `DataSource.query` sends each statement unnamed,
 * so Postgres parses and plans it on every call: for the transitions (an
 * UPDATE, the channel seq bump and the event insert as CTEs) planning cost as
 * much Postgres CPU as running them. Named, each pooled connection parses a
 * statement once and, after a few runs, reuses its generic plan (a lookup by
 * primary key, or by an array of them, is the same plan whatever the values).
 * Only for statements whose text is one of a few fixed strings: each distinct
 * text stays prepared on every connection that ran it.
 */
export class PreparedQueries {
  private readonly names = new Map<string, string>();
  /** Set once named statements turned out not to work here (see {@link rows}). */
  private unnamed = false;

  constructor(private readonly db: DataSource) {}

  /** The rows the statement answers (RETURNING included). */
  async rows<T>(text: string, values: unknown[]): Promise<T[]> {
    const pool = (this.db.driver as unknown as { master?: PgPool }).master;
    // No pool of pg's shape (another driver): the unnamed path still works.
    if (!pool || this.unnamed) return this.unnamedRows(text, values);
    try {
      const result = await pool.query({ name: this.nameOf(text), text, values });
      return result.rows as T[];
    } catch (err) {
      // A pooler in transaction mode that does not track prepared statements
      // (PgBouncer before 1.21, or without max_prepared_statements) sends the
      // parse and the run to different server sessions: the statement is
      // missing (26000) or already there (42P05). Either way it did not run,
      // so it is sent again, and from now on, unnamed.
      if (!isPreparedStatementLost(err)) throw err;
      this.unnamed = true;
      return this.unnamedRows(text, values);
    }
  }

  private async unnamedRows<T>(text: string, values: unknown[]): Promise<T[]> {
    const result: unknown = await this.db.query(text, values);
    // TypeORM answers an UPDATE ... RETURNING with [rows, count].
    return (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as T[];
  }

  private nameOf(text: string): string {
    let name = this.names.get(text);
    if (!name) {
      name = `squall_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      this.names.set(text, name);
    }
    return name;
  }
}

function isPreparedStatementLost(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '26000' || code === '42P05';
}
