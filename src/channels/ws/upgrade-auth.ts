import type { IncomingMessage } from 'node:http';
import type { Principal } from '../../auth/principal.js';
import { AppError, HTTP_STATUS } from '../../infra/errors/app-error.js';

/**
 * The principal each accepted upgrade request authenticated as. The adapter
 * checks the token during the HTTP upgrade (before the socket is accepted);
 * the gateway's handleConnection, which Nest hands the same request, takes it
 * from here. Weak: an entry lives no longer than its request.
 */
export const upgradePrincipals = new WeakMap<IncomingMessage, Principal>();

/**
 * WS_ALLOWED_ORIGINS as a check. A browser always sends Origin with a
 * WebSocket upgrade and a page cannot forge it, so refusing foreign origins
 * stops cross-site WebSocket hijacking; non-browser clients send none and are
 * let through (they are authenticated by their token).
 */
export function originCheck(allowed: string): (origin: string | undefined) => boolean {
  const list = allowed
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, '').toLowerCase())
    .filter(Boolean);
  if (list.length === 0 || list.includes('*')) return () => true;
  const set = new Set(list);
  return (origin) => origin === undefined || set.has(origin.toLowerCase());
}

const REASONS: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** How an upgrade refused by `err` is answered; anything but an AppError is a 500 (and a bug). */
export function upgradeRefusal(err: unknown): { status: number; reason: string; message: string } {
  if (err instanceof AppError) {
    const status = HTTP_STATUS[err.code];
    return { status, reason: REASONS[status] ?? 'Error', message: err.message };
  }
  return { status: 500, reason: 'Internal Server Error', message: 'internal error' };
}
