/**
 * Concurrent calls with the same key share one run of `fn`: the first starts
 * it, the others get its promise until it settles. For reads whose answer
 * may be a moment old without harm (a long poll's first look at history:
 * an older, shorter answer only makes the poll wait on the hub), so a storm
 * of identical requests costs one query, not one per request.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const shared = this.running.get(key);
    if (shared) return shared;
    const started = fn().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }

  /** Keys with a run in flight. */
  get size(): number {
    return this.running.size;
  }
}
