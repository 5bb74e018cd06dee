import type { WsConnection } from './ws-connection.js';

/** The close code of a connection whose token expired without a `refresh`. */
export const CLOSE_TOKEN_EXPIRED = 4001;

/** `token_expiring` comes this long before `exp` at most... */
export const WARNING_MAX_LEAD_MS = 60_000;
/** ...or this share of the token's remaining life when that is shorter, so a short-lived token is not warned about at once. */
const WARNING_SHARE = 0.1;
/** setTimeout's ceiling (about 24.8 days); a later `exp` is reached in several steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** When, before `expiresAt`, a connection whose token has `remainingMs` left is told. */
export function warningLeadMs(remainingMs: number): number {
  return Math.min(WARNING_MAX_LEAD_MS, Math.floor(Math.max(0, remainingMs) * WARNING_SHARE));
}

/**
 * (Re)starts the watch on the connection's token: `token_expiring` at
 * `expiresAt - warningLeadMs`, then close with 4001 at `expiresAt` unless a
 * `refresh` replaced the principal (which calls this again). One timer per
 * connection at most, none for a token without `exp`; the timer calls a
 * module-level function with the connection as its argument, so no closure
 * is allocated per connection. WsConnection clears it when it closes.
 */
export function watchExpiry(conn: WsConnection, now = Date.now()): void {
  clearTimeout(conn.expiryTimer);
  conn.expiryTimer = undefined;
  const exp = conn.principal.expiresAt;
  if (exp === null || conn.closed) return;
  conn.warnAt = exp - warningLeadMs(exp - now);
  tick(conn);
}

function tick(conn: WsConnection): void {
  conn.expiryTimer = undefined;
  const exp = conn.principal.expiresAt;
  if (exp === null || conn.closed) return;
  const now = Date.now();
  if (now >= exp) {
    conn.close(CLOSE_TOKEN_EXPIRED, 'token expired');
    return;
  }
  if (now >= conn.warnAt) {
    conn.warnAt = Infinity;
    conn.reply('token_expiring', { expiresAt: new Date(exp).toISOString(), expiresInMs: exp - now });
    arm(conn, exp - now);
    return;
  }
  arm(conn, conn.warnAt - now);
}

function arm(conn: WsConnection, delayMs: number): void {
  conn.expiryTimer = setTimeout(tick, Math.min(Math.max(1, delayMs), MAX_DELAY_MS), conn);
  // The server's own listening socket keeps the process up; this timer must not hold a shutdown.
  conn.expiryTimer.unref();
}

/** Whether the connection's token has expired (a frame read in the instant before its timer fired). */
export const tokenExpired = (conn: WsConnection, now = Date.now()): boolean =>
  conn.principal.expiresAt !== null && now >= conn.principal.expiresAt;
