/**
 * Tokens and callers for the security tests, and the HTTP access matrix as
 * data: a column per operation, a row per caller. Other suites add columns
 * (WebSocket connect/subscribe/publish, jobs) by building more
 * {@link AccessColumn}s and handing them to {@link checkMatrix}.
 */
import { type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import type { Instance } from './instance.js';

/** The two HS256 secrets of a rotation: tokens signed with either pass. */
export const SECRET = 'squall-test-secret-0123456789abcdef-current';
export const OLD_SECRET = 'squall-test-secret-0123456789abcdef-previous';
export const WRONG_SECRET = 'squall-test-secret-0123456789abcdef-attacker';

/** What a token-mode instance needs. */
export const TOKEN_ENV = { AUTH_JWT_SECRET: `${SECRET},${OLD_SECRET}` };

export interface Claims {
  sub?: unknown;
  subscribe?: unknown;
  publish?: unknown;
  admin?: unknown;
  [claim: string]: unknown;
}

/** An HS256 token; `ttlSeconds` may be negative (already expired). */
export function signToken(
  claims: Claims,
  { secret = SECRET, ttlSeconds = 3600 }: { secret?: string; ttlSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  // Wrong claim types on purpose, too: the tests check they are refused.
  return new SignJWT(claims as JWTPayload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

export const CALLERS = [
  'anonymous',
  'badSignature',
  'expired',
  'algNone',
  'chatUser',
  'newsReader',
  'otherUser',
  'admin',
] as const;
export type Caller = (typeof CALLERS)[number];

/** A caller's token (undefined: none). Built fresh, so expiries are relative to now. */
export async function tokenOf(caller: Caller): Promise<string | undefined> {
  switch (caller) {
    case 'anonymous':
      return undefined;
    case 'badSignature':
      return signToken({ sub: 'mallory', admin: true }, { secret: WRONG_SECRET });
    case 'expired':
      return signToken({ sub: 'alice', subscribe: ['chat:*'], publish: ['chat:*'] }, { ttlSeconds: -60 });
    case 'algNone':
      return new UnsecuredJWT({ sub: 'mallory', admin: true }).setExpirationTime('1h').encode();
    case 'chatUser':
      return signToken({ sub: 'alice', subscribe: ['chat:*'], publish: ['chat:*'] });
    case 'newsReader':
      return signToken({ sub: 'bob', subscribe: ['news:*'] });
    case 'otherUser':
      return signToken({ sub: 'carol', subscribe: ['other:*'], publish: ['other:*'] });
    case 'admin':
      return signToken({ sub: 'root', admin: true });
  }
}

export const bearer = (token: string | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {};

export interface Answer {
  status: number;
  body: unknown;
}

/** The `error` reason of the common error shape for a status. */
export const REASON: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
};

/** One operation of the matrix and the status each caller must get. */
export interface AccessColumn {
  name: string;
  call(instance: Instance, token: string | undefined): Promise<Answer>;
  expect: Record<Caller, number>;
}

/** The callers a token-mode instance refuses outright: every column expects 401 from them. */
export const REFUSED = { anonymous: 401, badSignature: 401, expired: 401, algNone: 401 } as const;

/** fetch, answering the status and the body (JSON when it parses). */
export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/**
 * Runs every cell, alternating instances, and returns the cells whose answer
 * differs from the expectation (empty when all match) as readable lines:
 * a failure lists every wrong cell at once. An error answer must also carry
 * the common shape's reason (`Unauthorized`, `Forbidden`).
 */
export async function checkMatrix(instances: Instance[], columns: AccessColumn[]): Promise<string[]> {
  const wrong: string[] = [];
  let n = 0;
  for (const column of columns) {
    for (const caller of CALLERS) {
      const instance = instances[n++ % instances.length];
      const answer = await column.call(instance, await tokenOf(caller));
      const expected = column.expect[caller];
      const body = answer.body as { error?: string; statusCode?: number } | undefined;
      const reasonOk =
        !REASON[expected] || (body?.error === REASON[expected] && body?.statusCode === expected);
      if (answer.status !== expected || !reasonOk) {
        wrong.push(
          `${column.name} as ${caller}: expected ${expected}, got ${answer.status} ${JSON.stringify(answer.body)}`,
        );
      }
    }
  }
  return wrong;
}

const publish = (channel: string) => (i: Instance, token?: string) =>
  call(`${i.url}/v1/channels/${channel}/messages`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ data: { text: 'hi' } }),
  });

const getWith = (path: string) => (i: Instance, token?: string) =>
  call(`${i.url}${path}`, { headers: bearer(token) });

/** SSE as EventSource opens it: the token in the URL. A 200 stream is cut once its status is known. */
const sse =
  (channel: string) =>
  async (i: Instance, token?: string): Promise<Answer> => {
    const abort = new AbortController();
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    const res = await fetch(`${i.url}/v1/channels/${channel}/stream${query}`, { signal: abort.signal });
    if (res.status === 200) {
      abort.abort();
      return { status: 200, body: '' };
    }
    return { status: res.status, body: await res.json() };
  };

/** Expectations for the four refused callers plus the four with valid tokens. */
export const expecting = (chatUser: number, newsReader: number, otherUser: number, admin: number) => ({
  ...REFUSED,
  chatUser,
  newsReader,
  otherUser,
  admin,
});

/**
 * The HTTP columns of the matrix for a `chat:` and a `news:` channel (both
 * with a message in them). WebSocket and jobs columns are built by their
 * suites the same way.
 */
export function httpColumns(chat: string, news: string): AccessColumn[] {
  return [
    { name: 'REST publish chat:*', call: publish(chat), expect: expecting(201, 403, 403, 201) },
    { name: 'REST publish news:*', call: publish(news), expect: expecting(403, 403, 403, 201) },
    {
      name: 'history chat:*',
      call: getWith(`/v1/channels/${chat}/messages`),
      expect: expecting(200, 403, 403, 200),
    },
    {
      name: 'history news:*',
      call: getWith(`/v1/channels/${news}/messages`),
      expect: expecting(403, 200, 403, 200),
    },
    {
      name: 'long poll news:*',
      call: getWith(`/v1/channels/${news}/poll?timeout=0`),
      expect: expecting(403, 200, 403, 200),
    },
    { name: 'SSE chat:* (?token=)', call: sse(chat), expect: expecting(200, 403, 403, 200) },
    { name: 'SSE news:* (?token=)', call: sse(news), expect: expecting(403, 200, 403, 200) },
    {
      name: 'channel info news:*',
      call: getWith(`/v1/channels/${news}`),
      expect: expecting(403, 200, 403, 200),
    },
    { name: 'GET /admin/queues', call: getWith('/admin/queues'), expect: expecting(403, 403, 403, 200) },
    { name: 'GET /v1/namespaces', call: getWith('/v1/namespaces'), expect: expecting(403, 403, 403, 200) },
  ];
}
