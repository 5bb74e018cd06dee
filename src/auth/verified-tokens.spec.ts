import { OPEN_ACCESS, type Principal } from './principal.js';
import { VerifiedTokens } from './verified-tokens.js';

const principal = (expiresAt: number | null): Principal => ({ ...OPEN_ACCESS, sub: 'a', expiresAt });

describe('VerifiedTokens', () => {
  it('keeps an entry for its ttl, never past the token exp', () => {
    const cache = new VerifiedTokens(10, 1000);
    cache.set('a', principal(null), 0);
    cache.set('b', principal(500), 0);
    expect(cache.get('a', 999)).toBeDefined();
    expect(cache.get('a', 1000)).toBeUndefined();
    expect(cache.get('b', 499)).toBeDefined();
    expect(cache.get('b', 500)).toBeUndefined();
  });

  it('does not keep an expired token, and drops the oldest entry when full', () => {
    const cache = new VerifiedTokens(2, 1000);
    cache.set('gone', principal(5), 10);
    expect(cache.get('gone', 10)).toBeUndefined();
    cache.set('a', principal(null), 0);
    cache.set('b', principal(null), 0);
    cache.set('c', principal(null), 0);
    expect([cache.get('a', 1), cache.get('b', 1), cache.get('c', 1)].map(Boolean)).toEqual([
      false,
      true,
      true,
    ]);
  });

  it('keys by digest, so the map never holds the token itself', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.e30.sig';
    expect(VerifiedTokens.key(token)).not.toContain(token);
    expect(VerifiedTokens.key(token)).toBe(VerifiedTokens.key(token));
  });
});
