/**
 * A small log-bucketed histogram (1% relative precision) for latencies in
 * milliseconds. Buckets are plain objects so a histogram crosses the IPC
 * channel cheaply and histograms from several load generators merge exactly.
 */
const BASE = Math.log(1.01);
const FLOOR = 0.001; // 1 µs: anything at or below lands in bucket "z"

export class Histogram {
  constructor() {
    this.buckets = {};
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.negatives = 0;
  }

  record(ms) {
    if (!Number.isFinite(ms)) return;
    // Cross-process clocks can disagree by a few µs; a negative is noted and clamped.
    if (ms < 0) this.negatives++;
    const v = Math.max(ms, 0);
    const key = v <= FLOOR ? 'z' : String(Math.floor(Math.log(v / FLOOR) / BASE));
    this.buckets[key] = (this.buckets[key] ?? 0) + 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other) {
    const o = other instanceof Histogram ? other : Histogram.from(other);
    for (const [k, n] of Object.entries(o.buckets)) this.buckets[k] = (this.buckets[k] ?? 0) + n;
    this.count += o.count;
    this.sum += o.sum;
    this.negatives += o.negatives;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
    return this;
  }

  static from(json) {
    const h = new Histogram();
    if (!json) return h;
    h.buckets = { ...json.buckets };
    h.count = json.count;
    h.sum = json.sum;
    h.min = json.min ?? Infinity;
    h.max = json.max ?? -Infinity;
    h.negatives = json.negatives ?? 0;
    return h;
  }

  toJSON() {
    return {
      buckets: this.buckets,
      count: this.count,
      sum: this.sum,
      min: this.count ? this.min : null,
      max: this.count ? this.max : null,
      negatives: this.negatives,
    };
  }

  /** The value at quantile q (0..1), as the upper edge of its bucket, clamped to [min, max]. */
  quantile(q) {
    if (this.count === 0) return NaN;
    const keys = Object.keys(this.buckets).sort((a, b) => order(a) - order(b));
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const k of keys) {
      seen += this.buckets[k];
      if (seen >= rank) {
        const upper = k === 'z' ? FLOOR : FLOOR * Math.exp((Number(k) + 1) * BASE);
        return Math.min(Math.max(upper, this.min), this.max);
      }
    }
    return this.max;
  }

  get mean() {
    return this.count ? this.sum / this.count : NaN;
  }

  summary() {
    return {
      count: this.count,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      max: this.count ? this.max : NaN,
      mean: this.mean,
    };
  }
}

const order = (k) => (k === 'z' ? -Infinity : Number(k));
