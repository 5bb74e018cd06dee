import { createHash } from 'node:crypto';
import type { Principal } from './principal.js';

/**
 * Tokens verified lately, by their SHA-256: a client sends the same token on
 * every request, and a WebCrypto verify costs far more than a hash and a map
 * lookup. An entry lives at most `ttlMs` (so a key withdrawn from the JWKS
 * stops working soon) and never past the token's own `exp`; the map is
 * bounded (oldest out first). Only successes are kept: a bad token is
 * verified (and refused) every time.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly max = 10_000,
    private readonly ttlMs = 60_000,
  ) {}

  static key(token: string): string {
    return createHash('sha256').update(token).digest('base64');
  }

  get(key: string, now = Date.now()): Principal | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  set(key: string, principal: Principal, now = Date.now()): void {
    const until = Math.min(now + this.ttlMs, principal.expiresAt ?? Infinity);
    if (until <= now || this.max === 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { principal, until });
  }
}
