import { SignJWT } from 'jose';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';
import { refusedUpgrade } from '../support/ws-upgrade.js';

/**
 * The WebSocket columns of the access matrix (issue 10), black-box against
 * two instances sharing one secret: who may connect (checked on the HTTP
 * upgrade, before any socket exists), subscribe and publish, with the exact
 * answer of each cell; and WS_ALLOWED_ORIGINS.
 */
const SECRET = 'ws-access-test-secret-0123456789';
const ALLOWED_ORIGIN = 'https://app.example.com';
const key = new TextEncoder().encode(SECRET);

interface Claims {
  sub?: string;
  subscribe?: string[];
  publish?: string[];
  admin?: boolean;
}

async function token(
  claims: Claims,
  { ttl = '1h', secret = key }: { ttl?: string; secret?: Uint8Array } = {},
) {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(secret);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let a: Instance;
let b: Instance;
const clients: TestClient[] = [];
beforeAll(async () => {
  const env = { AUTH_JWT_SECRET: SECRET, WS_ALLOWED_ORIGINS: `${ALLOWED_ORIGIN}, https://other.example.com` };
  [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stopAllInstances();
});

const withToken = (instance: Instance, jwt: string) => `${instance.wsUrl}?token=${encodeURIComponent(jwt)}`;
async function connect(instance: Instance, jwt: string, options = {}) {
  const c = await TestClient.connect(withToken(instance, jwt), options);
  clients.push(c);
  return c;
}

const unauthorized = {
  status: 401,
  body: { statusCode: 401, error: 'Unauthorized', message: expect.any(String) },
};

describe('WebSocket connect: the token is checked on the HTTP upgrade', () => {
  const refusals: [string, () => Promise<string | undefined>][] = [
    ['anonymous (no token)', async () => undefined],
    [
      'a bad signature',
      () => token({ sub: 'mallory', admin: true }, { secret: new TextEncoder().encode('x'.repeat(32)) }),
    ],
    ['an expired token', () => token({ sub: 'alice', admin: true }, { ttl: '-10s' })],
    [
      'alg: none',
      async () =>
        `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'mallory', admin: true, exp: 4e9 })}.`,
    ],
    ['garbage', async () => 'not-a-jwt'],
  ];
  it.each(refusals)('%s → 401 on both instances, no socket', async (_what, make) => {
    const jwt = await make();
    for (const instance of [a, b]) {
      const url = jwt === undefined ? instance.wsUrl : withToken(instance, jwt);
      expect(await refusedUpgrade(url)).toEqual(unauthorized);
    }
  });

  it('a token in Authorization: Bearer (non-browser clients) is accepted; a bad one is 401', async () => {
    const good = await TestClient.connect(b.wsUrl, {
      headers: { authorization: `Bearer ${await token({ sub: 'alice', subscribe: ['chat:*'] })}` },
    });
    clients.push(good);
    expect(await good.request('ping', {})).toEqual({ event: 'pong', data: {}, ref: expect.any(String) });
    expect(await refusedUpgrade(a.wsUrl, { headers: { authorization: 'Bearer nope' } })).toEqual(
      unauthorized,
    );
    expect(await refusedUpgrade(a.wsUrl, { headers: { authorization: 'Basic YTpi' } })).toEqual(unauthorized);
  });

  it('a token given twice is a 401, not a guess', async () => {
    const jwt = await token({ sub: 'alice', admin: true });
    expect(await refusedUpgrade(`${withToken(a, jwt)}&token=${jwt}`)).toEqual({
      status: 401,
      body: {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'the token query parameter is given more than once',
      },
    });
  });

  it('an unknown path is still a 404, before any token check', async () => {
    const res = await refusedUpgrade(`ws://127.0.0.1:${a.port}/v1/nope`);
    expect(res.status).toBe(404);
  });
});

describe('WS_ALLOWED_ORIGINS', () => {
  it('lets a listed origin (and clients sending none) in, refuses any other with 403 before the token is looked at', async () => {
    const jwt = await token({ sub: 'alice', subscribe: ['chat:*'] });
    const ok = await connect(a, jwt, { origin: ALLOWED_ORIGIN });
    expect((await ok.request('ping', {})).event).toBe('pong');
    const forbidden = {
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', message: 'this Origin may not open WebSockets here' },
    };
    for (const instance of [a, b]) {
      expect(await refusedUpgrade(withToken(instance, jwt), { origin: 'https://evil.example.net' })).toEqual(
        forbidden,
      );
      expect(await refusedUpgrade(withToken(instance, jwt), { origin: 'null' })).toEqual(forbidden);
      // No token at all from a foreign page: still the origin that is refused.
      expect(await refusedUpgrade(instance.wsUrl, { origin: 'https://evil.example.net' })).toEqual(forbidden);
    }
  });
});

describe('WebSocket subscribe and publish per token (frames exact, connection stays open)', () => {
  const users: Record<string, Claims> = {
    chat: { sub: 'carol', subscribe: ['chat:*'], publish: ['chat:*'] },
    news: { sub: 'nina', subscribe: ['news:*'] },
    other: { sub: 'oscar' },
    admin: { sub: 'root', admin: true },
  };
  const chat = `chat:${uniqueChannel('matrix')}`;
  const news = `news:${uniqueChannel('matrix')}`;

  // [user, subscribe chat, subscribe news, publish chat, publish news]
  const matrix: [keyof typeof users, boolean, boolean, boolean, boolean][] = [
    ['chat', true, false, true, false],
    ['news', false, true, false, false],
    ['other', false, false, false, false],
    ['admin', true, true, true, true],
  ];

  it.each(matrix)(
    '%s user: subscribe chat %s, news %s; publish chat %s, news %s',
    async (user, subChat, subNews, pubChat, pubNews) => {
      const jwt = await token(users[user]);
      // Subscriber on B, publisher on A: an allowed publish reaches the other instance.
      const reader = await connect(b, jwt);
      const writer = await connect(a, jwt);
      const forbidden = (verb: string, channel: string, ref: string) => ({
        event: 'error',
        data: { code: 'forbidden', message: `this token may not ${verb} channel ${channel}` },
        ref,
      });
      for (const [channel, allowed] of [
        [chat, subChat],
        [news, subNews],
      ] as const) {
        const reply = await reader.request('subscribe', { channel });
        expect(reply).toEqual(
          allowed
            ? { event: 'subscribed', data: { channel, lastSeq: expect.any(Number) }, ref: reply.ref }
            : forbidden('read', channel, reply.ref!),
        );
      }
      for (const [channel, allowed] of [
        [chat, pubChat],
        [news, pubNews],
      ] as const) {
        const reply = await writer.request('publish', { channel, data: { by: user } });
        expect(reply).toEqual(
          allowed
            ? {
                event: 'ack',
                data: { channel, seq: expect.any(Number), id: expect.any(String) },
                ref: reply.ref,
              }
            : forbidden('publish to', channel, reply.ref!),
        );
      }
      // Both connections are still open and served after every refusal.
      for (const c of [reader, writer]) expect((await c.request('ping', {})).event).toBe('pong');
      if (user === 'admin') {
        const got = await reader.waitForMessages(chat, 1);
        expect(got.map((m) => m.data)).toContainEqual({ by: 'admin' });
      }
    },
  );

  it('a user allowed to read a channel receives what another user, allowed to write it, publishes on the other instance', async () => {
    const channel = `chat:${uniqueChannel('cross')}`;
    const reader = await connect(b, await token({ sub: 'rita', subscribe: ['chat:*'] }));
    const writer = await connect(a, await token(users.chat));
    await reader.subscribe(channel);
    expect((await writer.request('publish', { channel, data: 'hi' })).event).toBe('ack');
    expect((await reader.waitForMessages(channel, 1)).map((m) => m.data)).toEqual(['hi']);
  });
});
