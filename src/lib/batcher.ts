export interface BatcherOptions<T> {
  /** Batches running at once; calls arriving while all are busy wait and go together. */
  maxInFlight: number;
  /** Most items in one batch. */
  maxItems: number;
  /** Most total weight in one batch (a batch always takes at least one item). */
  maxWeight?: number;
  weigh?: (item: T) => number;
  /** Most items waiting for a batch; past it (or past `maxQueuedWeight`) `submit` rejects at once. */
  maxQueued?: number;
  maxQueuedWeight?: number;
  /** The error a call past the queue bounds rejects with. */
  queueFull?: () => unknown;
}

interface Pending<T, R> {
  item: T;
  weight: number;
  resolve: (value: R) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit: coalesces concurrent calls into batches. While fewer than
 * `maxInFlight` batches run, a call starts at once (alone, or with the calls
 * of the same tick), so an idle system adds no latency; under load, calls
 * queue behind the running batches and the next batch takes them all, so one
 * round trip serves many callers. `runBatch` settles every item on its own:
 * one bad item never fails the others.
 */
export class Batcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private queuedWeight = 0;

  constructor(
    private readonly runBatch: (items: T[]) => Promise<PromiseSettledResult<R>[]>,
    private readonly options: BatcherOptions<T>,
  ) {}

  submit(item: T): Promise<R> {
    const { maxQueued = Infinity, maxQueuedWeight = Infinity, weigh, queueFull } = this.options;
    const weight = weigh ? weigh(item) : 0;
    // A slow backend must not turn into unbounded memory: past the bounds,
    // callers are told to come back rather than queued. (An item heavier than
    // the whole bound still goes through on an empty queue.)
    if (
      this.queue.length >= maxQueued ||
      (this.queue.length > 0 && this.queuedWeight + weight > maxQueuedWeight)
    ) {
      return Promise.reject(queueFull ? queueFull() : new Error('batch queue full'));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, weight, resolve, reject });
      this.queuedWeight += weight;
      if (!this.scheduled && this.inFlight < this.options.maxInFlight) {
        // Calls made in the same tick (one socket read carrying many frames) share a batch.
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  /** Calls waiting for a batch (not counting the running ones). */
  get waiting(): number {
    return this.queue.length;
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private take(): Pending<T, R>[] {
    const { maxItems, maxWeight = Infinity } = this.options;
    let count = 0;
    let weight = 0;
    while (count < this.queue.length && count < maxItems) {
      const w = this.queue[count].weight;
      if (count > 0 && weight + w > maxWeight) break;
      weight += w;
      count++;
    }
    this.queuedWeight -= weight;
    return this.queue.splice(0, count);
  }

  private async run(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.runBatch(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const r = results[i];
        if (!r) p.reject(new Error('batch returned no result for an item'));
        else if (r.status === 'fulfilled') p.resolve(r.value);
        else p.reject(r.reason);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
