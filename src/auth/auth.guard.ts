import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC } from '../infra/http/public.js';
import { AuthService } from './auth.service.js';
import type { Principal } from './principal.js';
import { readToken } from './request-token.js';

/** A request the guard let through: who is asking. */
export type AuthenticatedRequest = Request & { principal?: Principal };

/**
 * The global guard (APP_GUARD): every HTTP route needs a valid token unless
 * marked @Public(). The token comes as `Authorization: Bearer`, or as
 * `?token=` on GET and HEAD (EventSource cannot set headers; a token in the
 * URL of a write would end up in proxies' logs for nothing). The principal
 * is stored on the request for @CurrentPrincipal(). WebSocket messages are
 * not judged here: the gateway authenticates the upgrade.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const query = req.method === 'GET' || req.method === 'HEAD';
    req.principal = await this.auth.authenticate(this.auth.open ? undefined : readToken(req, { query }));
    return true;
  }
}
