import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthenticatedRequest } from './auth.guard.js';
import type { Principal } from './principal.js';

/**
 * The principal of the request (set by AuthGuard), for a handler parameter:
 * `publish(@CurrentPrincipal() principal: Principal, ...)`.
 */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    // Only a @Public() route has none: asking for it there is a programming error.
    if (!principal)
      throw new Error('@CurrentPrincipal() on a route the auth guard did not authenticate (@Public?)');
    return principal;
  },
);
