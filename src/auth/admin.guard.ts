import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { AppError } from '../infra/errors/app-error.js';
import type { AuthenticatedRequest } from './auth.guard.js';

/**
 * `@UseGuards(AdminGuard)` on an admin endpoint: the token needs
 * `admin: true` (403 otherwise). Runs after the global AuthGuard, so an
 * anonymous request is already a 401; open mode's principal is admin.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (!principal?.admin) throw new AppError('forbidden', 'this endpoint needs an admin token');
    return true;
  }
}
