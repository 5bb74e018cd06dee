import { SignJWT, UnsecuredJWT } from 'jose';
import { AppError } from '../infra/errors/app-error.js';
import { type AppConfig, parseConfig } from '../infra/config/config.schema.js';
import { AuthService } from './auth.service.js';
import { OPEN_ACCESS } from './principal.js';

const base = { DATABASE_URL: 'postgres://u:p@localhost:5432/db', REDIS_URL: 'redis://localhost:6379' };
const OLD = 'old-secret-old-secret-old-secret-0';
const NEW = 'new-secret-new-secret-new-secret-1';
const key = (s: string) => new TextEncoder().encode(s);

function service(env: Record<string, string> = {}): AuthService {
  return new AuthService(parseConfig({ ...base, ...env }) as AppConfig);
}

const sign = (claims: Record<string, unknown>, secret = NEW, ttl: string | number = '1h') =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(key(secret));

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('unauthorized');
    return (err as AppError).message;
  }
  throw new Error('expected a 401');
}

describe('AuthService', () => {
  it('gives OPEN_ACCESS in open mode, token or not', async () => {
    const auth = service();
    expect(auth.open).toBe(true);
    expect(await auth.authenticate(undefined)).toBe(OPEN_ACCESS);
    expect(await auth.authenticate('garbage')).toBe(OPEN_ACCESS);
  });

  describe('token mode', () => {
    const auth = service({ AUTH_JWT_SECRET: `${NEW},${OLD}` });

    it('builds the principal from the claims, with either secret of the list', async () => {
      const token = await sign({ sub: 'alice', subscribe: ['chat:*'], publish: ['chat:*'] }, OLD);
      const p = await auth.authenticate(token);
      expect(p).toMatchObject({ sub: 'alice', admin: false, subscribe: ['chat:*'], publish: ['chat:*'] });
      expect(p.expiresAt).toBeGreaterThan(Date.now());
      expect(await auth.authenticate(await sign({ sub: 'root', admin: true }))).toMatchObject({
        admin: true,
        subscribe: [],
        publish: [],
      });
    });

    it('refuses missing, malformed, unsigned, wrongly signed and expired tokens without quoting them', async () => {
      expect(await reason(auth.authenticate(undefined))).toMatch(/a token is required/);
      expect(await reason(auth.authenticate('not-a-jwt'))).toMatch(/not a JWT/);
      const none = new UnsecuredJWT({ sub: 'mallory', admin: true }).encode();
      expect(await reason(auth.authenticate(none))).toMatch(/algorithm none are not accepted/);
      const forged = await sign({ sub: 'mallory' }, 'another-secret-another-secret-another');
      const message = await reason(auth.authenticate(forged));
      expect(message).toMatch(/signature is invalid/);
      expect(message).not.toContain(forged.split('.')[2]);
      expect(
        await reason(auth.authenticate(await sign({ sub: 'a' }, NEW, Math.floor(Date.now() / 1000) - 10))),
      ).toMatch(/expired/);
      const early = await new SignJWT({ sub: 'a' })
        .setProtectedHeader({ alg: 'HS256' })
        .setNotBefore('1h')
        .sign(key(NEW));
      expect(await reason(auth.authenticate(early))).toMatch(/not valid yet/);
    });

    it.each([
      [{}, /claim sub/],
      [{ sub: '' }, /claim sub/],
      [{ sub: 'x'.repeat(257) }, /claim sub/],
      [{ sub: 7 }, /claim sub/],
      [{ sub: 'a', admin: 'yes' }, /claim admin/],
      [{ sub: 'a', subscribe: 'chat:*' }, /claim subscribe/],
      [{ sub: 'a', publish: [1] }, /claim publish/],
      [{ sub: 'a', publish: Array(101).fill('x') }, /claim publish/],
      [{ sub: 'a', subscribe: ['x'.repeat(257)] }, /claim subscribe/],
    ])('refuses claims %j naming the claim', async (claims, pattern) => {
      expect(await reason(auth.authenticate(await sign(claims)))).toMatch(pattern);
    });

    it('checks iss and aud when configured', async () => {
      const strict = service({ AUTH_JWT_SECRET: NEW, AUTH_ISSUER: 'https://idp', AUTH_AUDIENCE: 'squall' });
      const good = await new SignJWT({ sub: 'a' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('https://idp')
        .setAudience('squall')
        .sign(key(NEW));
      expect((await strict.authenticate(good)).sub).toBe('a');
      expect(
        await reason(strict.authenticate(await sign({ sub: 'a', iss: 'https://other', aud: 'squall' }))),
      ).toMatch(/issuer/);
      expect(
        await reason(strict.authenticate(await sign({ sub: 'a', iss: 'https://idp', aud: 'other' }))),
      ).toMatch(/audience/);
    });

    it('refuses RS256 tokens when no JWKS is configured', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ sub: 'a' })).toString('base64url');
      expect(await reason(auth.authenticate(`${header}.${body}.c2ln`))).toMatch(
        /RS256 are not accepted \(accepted: HS256\)/,
      );
    });
  });
});
