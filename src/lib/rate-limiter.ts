/**
 * Token buckets by key: `ratePerSec` sustained, bursts up to `burst`. In
 * memory, so a limit holds per instance: the cluster-wide limits (src/limits/,
 * in Redis) fall back to it while Redis does not answer.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst = Math.max(1, ratePerSec),
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.ratePerSec > 0;
  }

  /** Takes one token: 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.forgetIdle(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSec));
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }

  /** Buckets that have refilled completely carry no state worth keeping. */
  private forgetIdle(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.ratePerSec >= this.burst) this.buckets.delete(key);
    }
  }
}
