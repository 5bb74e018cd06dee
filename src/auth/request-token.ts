import type { IncomingMessage } from 'node:http';
import { AppError } from '../infra/errors/app-error.js';

/** Longer tokens are refused before any parsing (real ones are well under 4 KiB). */
export const MAX_TOKEN_CHARS = 8192;

const BEARER = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i;

/**
 * The token a request carries: `Authorization: Bearer <jwt>` first, else
 * `?token=<jwt>` when `query` allows it (WebSocket upgrades and EventSource
 * cannot set headers). undefined when there is none; a malformed header or a
 * repeated `token` is a 401 rather than a silent anonymous request.
 * Works on a bare IncomingMessage, so the WebSocket upgrade can use it too.
 */
export function readToken(
  req: IncomingMessage,
  { query = true }: { query?: boolean } = {},
): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = BEARER.exec(header);
    if (!match) throw new AppError('unauthorized', 'the Authorization header must be "Bearer <token>"');
    return checked(match[1]);
  }
  if (!query) return undefined;
  const at = req.url?.indexOf('?') ?? -1;
  if (at < 0) return undefined;
  const given = new URLSearchParams(req.url!.slice(at + 1)).getAll('token');
  if (given.length > 1)
    throw new AppError('unauthorized', 'the token query parameter is given more than once');
  return given[0] === undefined || given[0] === '' ? undefined : checked(given[0]);
}

function checked(token: string): string {
  if (token.length > MAX_TOKEN_CHARS) {
    throw new AppError('unauthorized', `the token is longer than ${MAX_TOKEN_CHARS} characters`);
  }
  return token;
}
