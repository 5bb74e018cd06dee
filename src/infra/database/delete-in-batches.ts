import type { DataSource } from 'typeorm';

/**
 * Runs a `DELETE … LIMIT`-style statement until it deletes fewer than `batch`
 * rows, so a large backlog never holds long locks or one huge transaction.
 * `sql` takes the batch size as its last parameter. Returns rows deleted.
 */
export async function deleteInBatches(
  db: Pick<DataSource, 'query'>,
  sql: string,
  params: unknown[],
  batch: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const [, deleted]: [unknown[], number] = await db.query(sql, [...params, batch]);
    total += deleted;
    if (deleted < batch) return total;
  }
}
