import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
  applyDecorators,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthenticatedRequest } from '../auth/auth.guard.js';
import { clientKeyOf } from './client-key.js';
import { type RateLimitName, RateLimits } from './rate-limits.js';

const RATE_LIMIT = Symbol('rateLimit');

/**
 * Takes a token of `name`'s rate for the caller before the handler runs (and
 * before its body is validated): 429 with Retry-After when over it.
 */
export const RateLimited = (name: RateLimitName) =>
  applyDecorators(SetMetadata(RATE_LIMIT, name), UseGuards(RateLimitGuard));

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const name = this.reflector.get<RateLimitName | undefined>(RATE_LIMIT, context.getHandler());
    // A limit that is off costs nothing: not even the client address (req.ip
    // walks X-Forwarded-For through the trust-proxy rule on every read).
    if (!name || !this.limits.enabled(name)) return true;
    // The global auth guard ran first: the token's `sub`, or the address in open mode.
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    await this.limits.take(name, clientKeyOf(req.principal, req.ip ?? 'unknown'));
    return true;
  }
}
