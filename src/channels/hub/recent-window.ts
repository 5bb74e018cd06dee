import type { Envelope } from '../envelope.js';

/**
 * The last few messages a channel's stream delivered on this instance, in
 * seq order without gaps, bounded by count and by bytes. Resumes and long
 * polls a little behind the head are answered from it instead of Postgres,
 * which stays the source of truth for anything older.
 */
export class RecentWindow {
  private items: Envelope[] = [];
  private bytes = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  /** The next message of the stream (seq = the last one's + 1). */
  push(envelope: Envelope): void {
    if (this.maxCount === 0) return;
    this.items.push(envelope);
    this.bytes += envelope.json().length;
    while (this.items.length > this.maxCount || (this.bytes > this.maxBytes && this.items.length > 1)) {
      this.bytes -= this.items.shift()!.json().length;
    }
  }

  /** The stream jumped (retention skipped seqs): what is held no longer joins up. */
  clear(): void {
    this.items = [];
    this.bytes = 0;
  }

  /**
   * Messages with `after < seq <= through`, at most `limit`, when the window
   * holds every one of them; undefined when some are older than the window.
   */
  after(after: number, limit: number, through = Number.MAX_SAFE_INTEGER): Envelope[] | undefined {
    const first = this.items[0]?.seq;
    if (first === undefined || first > after + 1) return undefined;
    const from = after + 1 - first;
    const last = Math.min(through, this.items[this.items.length - 1].seq);
    const count = Math.max(0, Math.min(limit, last - after));
    return this.items.slice(from, from + count);
  }
}
