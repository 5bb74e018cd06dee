import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to maxMs, with jitter taking at most half of it', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    // random() = 0: the full ceiling; random() → 1: half of it.
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, options, () => 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, options, () => 0.999999))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
  });

  it('spreads clients that fail together over the interval', () => {
    const delays = new Set(
      Array.from({ length: 200 }, () => backoffDelay(3, { initialMs: 100, maxMs: 10_000 })),
    );
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
    expect(delays.size).toBeGreaterThan(50);
  });

  it('never waits 0 ms or longer than the cap, whatever the options', () => {
    expect(backoffDelay(0, { initialMs: 250, jitter: 5 }, () => 0.5)).toBe(125);
    expect(backoffDelay(-3, { initialMs: 250 }, () => 0)).toBe(250);
    expect(backoffDelay(1_000, {}, () => 0)).toBe(10_000);
  });
});
