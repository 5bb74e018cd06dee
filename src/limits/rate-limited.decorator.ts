import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
  applyDecorators,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
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
    if (!name) return true;
    const req = context.switchToHttp().getRequest<Request>();
    // Open mode until the auth guard puts the principal on the request.
    await this.limits.take(name, clientKeyOf(null, req.ip ?? 'unknown'));
    return true;
  }
}
