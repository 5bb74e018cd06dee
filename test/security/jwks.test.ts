import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { bearer, call } from '../support/auth.js';

type Key = Awaited<ReturnType<typeof generateKeyPair>>;

/** A JWKS endpoint on a loopback port, as an identity provider serves one; the test swaps its keys. */
let jwks: Server;
let published: JWK[] = [];
let fetches = 0;
let instance: Instance;
const ISSUER = 'https://idp.test/realms/squall';
const AUDIENCE = 'squall-api';
const channel = `chat:jwks-${Date.now().toString(36)}`;

async function jwk(key: Key, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(key.publicKey)), kid, alg, use: 'sig' };
}

/**
 * Every token is new (its own jti): the instance caches verified tokens for up
 * to 60 s (docs/security.md), and two tokens signed within the same second
 * with the same claims would otherwise be the same string.
 */
function sign(key: Key, kid: string, alg: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ subscribe: ['chat:*'], iss: ISSUER, aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setSubject('alice')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key.privateKey);
}

const info = (token: string) => call(`${instance.url}/v1/channels/${channel}`, { headers: bearer(token) });

let rsa1: Key;

beforeAll(async () => {
  rsa1 = await generateKeyPair('RS256', { extractable: true });
  published = [await jwk(rsa1, 'rsa-1', 'RS256')];
  jwks = createServer((req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const { port } = jwks.address() as AddressInfo;
  instance = await startInstance({
    AUTH_JWKS_URL: `http://127.0.0.1:${port}/realms/squall/certs`,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    // An unknown kid refetches at once (the default waits 30 s between such fetches).
    AUTH_JWKS_COOLDOWN_MS: '0',
  });
}, 60_000);

afterAll(async () => {
  await stopAllInstances();
  jwks?.close();
});

describe('tokens from an identity provider (JWKS)', () => {
  it('accepts an RS256 token signed by a published key', async () => {
    expect((await info(await sign(rsa1, 'rsa-1', 'RS256'))).status).toBe(200);
  });

  it('refuses a wrong issuer or audience, a foreign key under a known kid, and HS256 signed with the public key', async () => {
    expect((await info(await sign(rsa1, 'rsa-1', 'RS256', { iss: 'https://evil' }))).body).toMatchObject({
      statusCode: 401,
      message: 'the token issuer (iss) is not accepted',
    });
    expect((await info(await sign(rsa1, 'rsa-1', 'RS256', { aud: 'other-api' }))).status).toBe(401);
    const foreign = await generateKeyPair('RS256');
    expect((await info(await sign(foreign, 'rsa-1', 'RS256'))).body).toMatchObject({
      statusCode: 401,
      message: 'the token signature is invalid',
    });
    // The classic confusion: the public key's PEM used as an HMAC secret.
    const pem = await exportSPKI(rsa1.publicKey);
    const confused = await new SignJWT({ subscribe: ['chat:*'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setSubject('alice')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(pem));
    expect((await info(confused)).body).toMatchObject({
      statusCode: 401,
      message: 'tokens signed with algorithm HS256 are not accepted (accepted: RS256, ES256)',
    });
  });

  it('picks up a rotated key (new kid) without a restart, and an ES256 key', async () => {
    const rsa2 = await generateKeyPair('RS256', { extractable: true });
    const token = await sign(rsa2, 'rsa-2', 'RS256');
    // Not published yet: refused.
    expect((await info(token)).status).toBe(401);
    const before = fetches;
    const ec = await generateKeyPair('ES256', { extractable: true });
    published = [await jwk(rsa2, 'rsa-2', 'RS256'), await jwk(ec, 'ec-1', 'ES256')];
    expect((await info(token)).status).toBe(200);
    expect(fetches).toBeGreaterThan(before);
    expect((await info(await sign(ec, 'ec-1', 'ES256'))).status).toBe(200);
    // The retired key's tokens stop working once the JWKS no longer lists it.
    expect((await info(await sign(rsa1, 'rsa-1', 'RS256'))).status).toBe(401);
  });
});
