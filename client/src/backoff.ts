/** How long to wait between reconnect (and publish retry) attempts. */
export interface BackoffOptions {
  /** The ceiling of the first wait. Default 250 ms. */
  initialMs?: number;
  /** No wait is longer than this. Default 10 s. */
  maxMs?: number;
  /** Each failed attempt multiplies the ceiling by this. Default 2. */
  factor?: number;
  /**
   * The share of the ceiling that is random, 0..1. Default 0.5: a wait is
   * between half the ceiling and the ceiling, so clients cut off together (an
   * instance died) do not all come back in the same instant, and none retries
   * in a hot loop.
   */
  jitter?: number;
}

/**
 * The wait before retry number `attempt` (0 for the first retry): exponential,
 * capped, with jitter. `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const { initialMs = 250, maxMs = 10_000, factor = 2, jitter = 0.5 } = options;
  const ceiling = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
  const share = Math.min(1, Math.max(0, jitter));
  return Math.round(ceiling * (1 - share * random()));
}
