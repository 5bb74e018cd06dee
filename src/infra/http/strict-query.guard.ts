import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AppError } from '../errors/app-error.js';

const BRACKETS = /[[\]]/;

/**
 * Refuses query keys with brackets (`after[]=3`, `timeout[x]=1`), which
 * Express keeps as unknown keys, so the field they meant would silently fall
 * back to its default (a resume from `after[]=3` replaying from 0, say), and
 * keys given twice, which no field accepts. Other unknown keys stay allowed
 * (cache busters such as `_=123` are common).
 *
 * A global guard rather than an interceptor: it runs after the auth guard
 * (an anonymous caller still gets 401 first), and with no interceptor at all
 * Nest answers a request without building an RxJS pipeline for it, which was
 * a measurable share of every REST request's CPU.
 */
@Injectable()
export class StrictQueryGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const query = context.switchToHttp().getRequest<Request>().query;
    if (!query) return true;
    for (const key in query) {
      if (BRACKETS.test(key)) {
        throw new AppError(
          'bad_request',
          `query parameter ${key} is not supported: give each field once, as name=value`,
        );
      }
      if (Array.isArray(query[key])) {
        throw new AppError('bad_request', `query parameter ${key} is given more than once`);
      }
    }
    return true;
  }
}
