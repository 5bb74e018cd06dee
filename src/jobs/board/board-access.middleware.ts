import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AuthService } from '../../auth/auth.service.js';
import type { Principal } from '../../auth/principal.js';
import { readToken } from '../../auth/request-token.js';
import { AppError, HTTP_STATUS } from '../../infra/errors/app-error.js';

export const BOARD_COOKIE = 'squall_board';
/** Longest life of the board's cookie; shorter when the token expires sooner. */
export const BOARD_COOKIE_MAX_AGE_S = 15 * 60;

/** A loopback address, IPv4, IPv6 or IPv4-mapped. */
export const isLoopback = (address: string | undefined) => /^(::1$|127\.|::ffff:127\.)/.test(address ?? '');

/**
 * Who may use the board (it retries and deletes jobs, and shows payloads).
 *
 * Token mode: an admin token. A browser cannot send a header to a page it
 * navigates to, so `?token=<jwt>` is accepted once: it is checked, stored in
 * an `HttpOnly`, `SameSite=Strict`, `Path=/admin` cookie, and the browser is
 * redirected to the same URL without it (out of the address bar and the
 * history). The cookie holds the JWT itself, verified on every request like
 * a bearer: it needs no signing key of its own (JWKS-only deployments have
 * none), it dies with the token (`exp`, a key rotation), and its Max-Age
 * (15 min at most) bounds it further. `Authorization: Bearer` works too.
 *
 * Open mode: clients on this machine only, judged on the socket's address,
 * never on `req.ip`: that one follows X-Forwarded-For from any trusted proxy,
 * which a peer on the same network can forge.
 */
@Injectable()
export class BoardAccessMiddleware implements NestMiddleware {
  constructor(private readonly auth: AuthService) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (this.auth.open) {
      if (isLoopback(req.socket.remoteAddress)) return next();
      return refuse(res, new AppError('forbidden', 'the job board is available from localhost only'));
    }
    try {
      const fromQuery =
        !req.headers.authorization && new URL(req.originalUrl, 'http://x').searchParams.has('token');
      const token = readToken(req, { query: req.method === 'GET' }) ?? boardCookie(req);
      const principal = await this.auth.authenticate(token);
      if (!principal.admin) throw new AppError('forbidden', 'the job board needs an admin token');
      if (fromQuery) return handOver(req, res, token!, principal);
      next();
    } catch (err) {
      if (err instanceof AppError) return refuse(res, err);
      next(err);
    }
  }
}

/** Sets the cookie and sends the browser to the same URL without `token`. */
function handOver(req: Request, res: Response, token: string, principal: Principal): void {
  const untilExpiry =
    principal.expiresAt === null ? Infinity : Math.floor((principal.expiresAt - Date.now()) / 1000);
  const maxAge = Math.max(0, Math.min(BOARD_COOKIE_MAX_AGE_S, untilExpiry));
  const secure = req.secure ? '; Secure' : '';
  res.setHeader(
    'Set-Cookie',
    `${BOARD_COOKIE}=${token}; Max-Age=${maxAge}; Path=/admin; HttpOnly; SameSite=Strict${secure}`,
  );
  const url = new URL(req.originalUrl, 'http://x');
  url.searchParams.delete('token');
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(303, url.pathname + url.search);
}

function boardCookie(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === BOARD_COOKIE) return value.join('=') || undefined;
  }
  return undefined;
}

/** The common error shape: this runs as Express middleware, outside Nest's exception filter. */
function refuse(res: Response, err: AppError): void {
  const status = HTTP_STATUS[err.code];
  if (err.code === 'unauthorized') res.setHeader('WWW-Authenticate', 'Bearer');
  if (err.retryAfter) res.setHeader('Retry-After', String(err.retryAfter));
  const error = { 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' }[status] ?? 'Error';
  res.status(status).json({ statusCode: status, error, message: err.message });
}
