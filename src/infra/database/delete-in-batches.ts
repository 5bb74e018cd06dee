/**
 * Runs one batch of a delete until it deletes fewer than `batch` rows, so a
 * large backlog never holds long locks or one huge transaction. `deleteOnce`
 * deletes at most `limit` rows and says how many. Returns rows deleted.
 */
export async function deleteInBatches(
  batch: number,
  deleteOnce: (limit: number) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteOnce(batch);
    total += deleted;
    if (deleted < batch) return total;
  }
}
