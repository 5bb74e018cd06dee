import { webcrypto } from 'node:crypto';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { AppError } from '../infra/errors/app-error.js';
import { principalFromClaims } from './claims.js';
import { OPEN_ACCESS, type Principal } from './principal.js';
import { VerifiedTokens } from './verified-tokens.js';

/** Each key type verifies only its own algorithms: no `none`, no HS256 "signed" with a public key. */
const HMAC_ALGS = ['HS256'];
const JWKS_ALGS = ['RS256', 'ES256'];
/** Milliseconds a JWKS fetch may take before the request is answered 503. */
const JWKS_TIMEOUT_MS = 5000;

const unauthorized = (reason: string) => new AppError('unauthorized', reason);

/**
 * Verifies tokens and turns them into Principals, for every transport.
 * Open mode (no key, see config.schema.ts): every caller is OPEN_ACCESS.
 * Token mode: HS256 against each AUTH_JWT_SECRET (rotation), RS256/ES256
 * against the identity provider's JWKS; `iss`/`aud` when configured;
 * `exp`/`nbf` always. Every failure is a 401 `unauthorized` saying why, and
 * never quoting the token.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger('Auth');
  readonly open: boolean;
  /** HMAC keys imported once: importing on every verify costs more than the verify. */
  private readonly hmacKeys: Promise<webcrypto.CryptoKey[]>;
  private readonly jwks?: JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;
  private readonly verified = new VerifiedTokens();

  constructor(@InjectConfig() private readonly config: AppConfig) {
    this.open = config.AUTH_MODE === 'open';
    const secrets = this.open ? [] : (config.AUTH_JWT_SECRET ?? []);
    this.hmacKeys = Promise.all(
      secrets.map((secret) =>
        webcrypto.subtle.importKey(
          'raw',
          new TextEncoder().encode(secret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['verify'],
        ),
      ),
    );
    if (!this.open && config.AUTH_JWKS_URL) {
      this.jwks = createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), {
        cooldownDuration: config.AUTH_JWKS_COOLDOWN_MS,
        timeoutDuration: JWKS_TIMEOUT_MS,
      });
    }
    this.options = {
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    };
  }

  onModuleInit(): void {
    if (this.open) {
      this.logger.warn(
        'AUTHENTICATION IS OFF (open mode): anyone who can reach this instance may read and publish every channel ' +
          'and see and cancel every job. Set AUTH_JWT_SECRET or AUTH_JWKS_URL before exposing it (docs/security.md).',
      );
    } else {
      const keys = [
        this.config.AUTH_JWT_SECRET ? `${this.config.AUTH_JWT_SECRET.length} HS256 secret(s)` : '',
        this.config.AUTH_JWKS_URL ? `JWKS at ${new URL(this.config.AUTH_JWKS_URL).origin}` : '',
      ].filter(Boolean);
      this.logger.log(`token mode: ${keys.join(' and ')}`);
    }
  }

  /** The principal a token proves; OPEN_ACCESS in open mode whatever the token. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (this.open) return OPEN_ACCESS;
    if (!token) {
      throw unauthorized(
        'a token is required (Authorization: Bearer <token>, or ?token=<token> where headers cannot be set)',
      );
    }
    const key = VerifiedTokens.key(token);
    const known = this.verified.get(key);
    if (known) return known;
    const principal = principalFromClaims(await this.verify(token));
    this.verified.set(key, principal);
    return principal;
  }

  private async verify(token: string): Promise<JWTPayload> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized('the token is not a JWT (header.payload.signature)');
    }
    const keys = await this.hmacKeys;
    if (alg === 'HS256' && keys.length) {
      return this.verifyHmac(token, keys).catch((err: unknown) => {
        throw describe(err);
      });
    }
    if (typeof alg === 'string' && JWKS_ALGS.includes(alg) && this.jwks) {
      try {
        return (await jwtVerify(token, this.jwks, { ...this.options, algorithms: JWKS_ALGS })).payload;
      } catch (err) {
        if (
          err instanceof errors.JWKSTimeout ||
          err instanceof errors.JWKSInvalid ||
          !(err instanceof errors.JOSEError)
        ) {
          // The identity provider did not answer (or answered garbage): not the client's fault.
          this.logger.warn(`JWKS fetch failed: ${(err as Error).message}`);
          throw new AppError('unavailable', "the identity provider's keys could not be fetched", 5);
        }
        throw describe(err);
      }
    }
    const name = typeof alg === 'string' && /^[A-Za-z0-9]{1,16}$/.test(alg) ? alg : 'its';
    const accepted = [...(keys.length ? HMAC_ALGS : []), ...(this.jwks ? JWKS_ALGS : [])];
    throw unauthorized(
      `tokens signed with algorithm ${name} are not accepted (accepted: ${accepted.join(', ')})`,
    );
  }

  /** Each secret in turn: a token signed with an older secret still passes during a rotation. */
  private async verifyHmac(token: string, keys: webcrypto.CryptoKey[]): Promise<JWTPayload> {
    let last: unknown;
    for (const key of keys) {
      try {
        return (await jwtVerify(token, key, { ...this.options, algorithms: HMAC_ALGS })).payload;
      } catch (err) {
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
        last = err;
      }
    }
    throw last;
  }
}

/** jose's error as the client should read it (its messages name claims, never the token). */
function describe(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.JWTExpired) return unauthorized('the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return unauthorized('the token is not valid yet (nbf)');
    if (err.claim === 'iss') return unauthorized('the token issuer (iss) is not accepted');
    if (err.claim === 'aud') return unauthorized('the token audience (aud) is not accepted');
    return unauthorized(`token claim ${err.claim} is invalid: ${err.reason}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return unauthorized('the token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthorized("the token's key (kid) is not among the identity provider's keys");
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys)
    return unauthorized("the token's key (kid) is ambiguous");
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return unauthorized("the token's algorithm does not fit its key");
  }
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) {
    return unauthorized(`the token is malformed: ${err.message}`);
  }
  return unauthorized('the token is invalid');
}
