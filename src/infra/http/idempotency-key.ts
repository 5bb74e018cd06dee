import { AppError } from '../errors/app-error.js';

/** An idempotency key, on every API that takes one: 1-128 printable ASCII characters, no space. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** The key, `undefined` for none (`null` is how many JSON clients spell "not given"), or a 400. */
export function parseIdempotencyKey(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw new AppError(
      'bad_request',
      'idempotencyKey must be 1-128 printable ASCII characters without spaces (0x21-0x7e)',
    );
  }
  return value;
}
