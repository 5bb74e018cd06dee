/** Exponential backoff: `baseMs`, doubled per attempt (from 0), at most `maxMs`. */
export const backoffMs = (attempt: number, baseMs: number, maxMs: number): number =>
  Math.min(baseMs * 2 ** Math.min(attempt, 30), maxMs);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
