/**
 * Who is asking, as every transport and feature sees it: built from a
 * verified token, or OPEN_ACCESS when no key is configured (open mode).
 */
export interface Principal {
  /** The token's `sub`; null in open mode. Jobs belong to it; rate limits count per it. */
  readonly sub: string | null;
  /** `admin: true` in the token: every channel, every job, the admin surfaces. */
  readonly admin: boolean;
  /** Channel patterns the token may read (`*` matches within one `:`-separated segment). */
  readonly subscribe: readonly string[];
  /** Channel patterns the token may publish to. */
  readonly publish: readonly string[];
  /** When the token expires (ms since the epoch); null when it never does. */
  readonly expiresAt: number | null;
}

/** Open mode (no key configured): everyone may do everything, as a trusted local setup expects. */
export const OPEN_ACCESS: Principal = Object.freeze({
  sub: null,
  admin: true,
  subscribe: Object.freeze(['*']),
  publish: Object.freeze(['*']),
  expiresAt: null,
});
