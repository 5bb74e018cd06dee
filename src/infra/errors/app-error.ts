/**
 * Domain errors shared by every transport: HTTP maps `code` to a status,
 * WebSocket sends it as-is in an `error` frame.
 */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds, for `rate_limited` and `unavailable` (sent as Retry-After). */
    readonly retryAfter?: number,
    /** The same wait in ms when known exactly (WebSocket error frames carry it as `retryAfterMs`). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
