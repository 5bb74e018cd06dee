import type { JWTPayload } from 'jose';
import { AppError } from '../infra/errors/app-error.js';
import type { Principal } from './principal.js';

export const MAX_SUB_CHARS = 256;
export const MAX_PATTERNS = 100;
export const MAX_PATTERN_CHARS = 256;

/**
 * Turns a verified token's claims into a Principal. A claim of the wrong type
 * is a 401 naming it, never a silent "no access": a misconfigured identity
 * provider should be obvious at the first request.
 */
export function principalFromClaims(claims: JWTPayload): Principal {
  const { sub } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_CHARS) {
    throw new AppError(
      'unauthorized',
      `token claim sub must be a non-empty string of at most ${MAX_SUB_CHARS} characters`,
    );
  }
  const admin = claims.admin;
  if (admin !== undefined && typeof admin !== 'boolean') {
    throw new AppError('unauthorized', 'token claim admin must be a boolean');
  }
  return Object.freeze({
    sub,
    admin: admin === true,
    subscribe: patterns(claims, 'subscribe'),
    publish: patterns(claims, 'publish'),
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
  });
}

/** An absent claim grants nothing of its kind. */
function patterns(claims: JWTPayload, name: 'subscribe' | 'publish'): readonly string[] {
  const value = claims[name];
  if (value === undefined) return Object.freeze([]);
  if (
    !Array.isArray(value) ||
    value.length > MAX_PATTERNS ||
    !value.every((p) => typeof p === 'string' && p.length > 0 && p.length <= MAX_PATTERN_CHARS)
  ) {
    throw new AppError(
      'unauthorized',
      `token claim ${name} must be an array of at most ${MAX_PATTERNS} channel patterns (non-empty strings of at most ${MAX_PATTERN_CHARS} characters)`,
    );
  }
  return Object.freeze([...(value as string[])]);
}
