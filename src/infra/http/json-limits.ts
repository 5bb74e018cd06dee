import { AppError } from '../errors/app-error.js';

/** Deeper than any sane document; deep enough nesting overflows JSON.stringify's stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * Checks a client-supplied JSON value before it is serialised and stored:
 * nesting at most {@link MAX_JSON_DEPTH}, and only finite numbers (JSON.parse
 * reads 1e400 as Infinity, which JSON.stringify would silently store as null).
 * Iterative, so a hostile document cannot overflow the stack here either.
 */
export function checkJsonValue(value: unknown, field: string): void {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new AppError('bad_request', `${field} contains a number JSON cannot represent`);
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw new AppError('bad_request', `${field} is nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: child, depth: depth + 1 });
  }
}
