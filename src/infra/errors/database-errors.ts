const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '57014', // query_canceled: the statement timeout; Postgres is too slow right now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed|Query read timeout/i;

/** True when an error means "Postgres cannot be reached right now" rather than a bug. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string; driverError?: unknown } | undefined;
  if (!e) return false;
  if (e.code && UNAVAILABLE_CODES.has(e.code)) return true;
  if (e.message && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  return e.driverError ? isDatabaseUnavailable(e.driverError) : false;
}

/**
 * True when Postgres refused a value itself (SQLSTATE class 22, data
 * exception), e.g. `\u0000` or a lone surrogate inside JSON for a jsonb
 * column: the client's input is at fault, so it is a 400, not a 500.
 */
export function isInvalidDataError(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: unknown } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && e.code.startsWith('22')) return true;
  return e.driverError ? isInvalidDataError(e.driverError) : false;
}
