import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { AppError } from '../errors/app-error.js';

/**
 * Refuses query keys with brackets (`after[]=3`, `timeout[x]=1`), which
 * Express keeps as unknown keys, so the field they meant would silently fall
 * back to its default (a resume from `after[]=3` replaying from 0, say), and
 * keys given twice, which no field accepts. Other unknown keys stay allowed
 * (cache busters such as `_=123` are common).
 */
@Injectable()
export class StrictQueryInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const query = context.switchToHttp().getRequest<Request>().query ?? {};
      for (const [key, value] of Object.entries(query)) {
        if (/[[\]]/.test(key)) {
          throw new AppError(
            'bad_request',
            `query parameter ${key} is not supported: give each field once, as name=value`,
          );
        }
        if (Array.isArray(value)) {
          throw new AppError('bad_request', `query parameter ${key} is given more than once`);
        }
      }
    }
    return next.handle();
  }
}
