import { type Caller, REFUSED, signToken, TOKEN_ENV, tokenOf } from '../support/auth.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';
import { refusedUpgrade } from '../support/ws-upgrade.js';

/**
 * The WebSocket columns of the access matrix (issue 10), black-box against
 * two instances sharing the secrets, with the callers of the HTTP matrix:
 * who may connect (checked on the HTTP upgrade, before any socket exists),
 * subscribe and publish, with the exact answer of each cell; and
 * WS_ALLOWED_ORIGINS.
 */
const ALLOWED_ORIGIN = 'https://app.example.com';
const token = (claims: Record<string, unknown>) => signToken(claims);

let a: Instance;
let b: Instance;
const clients: TestClient[] = [];
beforeAll(async () => {
  const env = { ...TOKEN_ENV, WS_ALLOWED_ORIGINS: `${ALLOWED_ORIGIN}, https://other.example.com` };
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
  headers: expect.objectContaining({ 'www-authenticate': 'Bearer', 'content-type': 'application/json' }),
};

describe('WebSocket connect: the token is checked on the HTTP upgrade', () => {
  it('says why, as HTTP does, without quoting the token', async () => {
    const because = async (jwt: string | undefined) =>
      ((await refusedUpgrade(jwt === undefined ? a.wsUrl : withToken(a, jwt))).body as { message: string })
        .message;
    expect(await because(undefined)).toMatch(/^a token is required/);
    expect(await because(await tokenOf('expired'))).toBe('the token has expired');
    expect(await because(await tokenOf('badSignature'))).toBe('the token signature is invalid');
    expect(await because(await tokenOf('algNone'))).toMatch(
      /^tokens signed with algorithm none are not accepted/,
    );
    expect(await because('not-a-jwt')).toBe('the token is not a JWT (header.payload.signature)');
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
    expect(await refusedUpgrade(`${withToken(a, jwt)}&token=${jwt}`)).toMatchObject({
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
      headers: expect.not.objectContaining({ 'www-authenticate': expect.anything() }),
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

describe('WebSocket access matrix: the callers of the HTTP matrix (test/support/auth.ts) × connect, subscribe, publish', () => {
  const chat = `chat:${uniqueChannel('matrix')}`;
  const news = `news:${uniqueChannel('matrix')}`;
  type Cell = 'ok' | 'forbidden';
  // caller → [subscribe chat, subscribe news, publish chat, publish news]; the refused four never get a socket.
  const matrix: Record<Exclude<Caller, keyof typeof REFUSED>, [Cell, Cell, Cell, Cell]> = {
    chatUser: ['ok', 'forbidden', 'ok', 'forbidden'],
    newsReader: ['forbidden', 'ok', 'forbidden', 'forbidden'],
    otherUser: ['forbidden', 'forbidden', 'forbidden', 'forbidden'],
    admin: ['ok', 'ok', 'ok', 'ok'],
  };

  it.each(Object.keys(REFUSED) as Caller[])(
    '%s: 401 on the upgrade of both instances, no socket',
    async (caller) => {
      const jwt = await tokenOf(caller);
      for (const instance of [a, b]) {
        const url = jwt === undefined ? instance.wsUrl : withToken(instance, jwt);
        const refused = await refusedUpgrade(url);
        expect(refused).toEqual(unauthorized);
        if (jwt) expect(JSON.stringify(refused.body)).not.toContain(jwt);
      }
    },
  );

  it.each(Object.entries(matrix))(
    '%s: connects; subscribe chat, news; publish chat, news → %j (exact frames)',
    async (caller, [subChat, subNews, pubChat, pubNews]) => {
      const jwt = (await tokenOf(caller as Caller))!;
      // Subscriber on B, publisher on A: an allowed publish reaches the other instance.
      const reader = await connect(b, jwt);
      const writer = await connect(a, jwt);
      const forbidden = (verb: string, channel: string, ref: string) => ({
        event: 'error',
        data: { code: 'forbidden', message: `this token may not ${verb} channel ${channel}` },
        ref,
      });
      for (const [channel, cell] of [
        [chat, subChat],
        [news, subNews],
      ] as const) {
        const reply = await reader.request('subscribe', { channel });
        expect(reply).toEqual(
          cell === 'ok'
            ? {
                event: 'subscribed',
                data: { channel, lastSeq: expect.any(Number), instance: expect.any(String) },
                ref: reply.ref,
              }
            : forbidden('read', channel, reply.ref!),
        );
      }
      for (const [channel, cell] of [
        [chat, pubChat],
        [news, pubNews],
      ] as const) {
        const reply = await writer.request('publish', { channel, data: { by: caller } });
        expect(reply).toEqual(
          cell === 'ok'
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
      if (subChat === 'ok' && pubChat === 'ok') {
        const got = await reader.waitForMessages(chat, 1);
        expect(got.map((m) => m.data)).toContainEqual({ by: caller });
      }
    },
  );

  it('a user allowed to read a channel receives what another user, allowed to write it, publishes on the other instance', async () => {
    const channel = `chat:${uniqueChannel('cross')}`;
    const reader = await connect(b, await signToken({ sub: 'rita', subscribe: ['chat:*'] }));
    const writer = await connect(a, (await tokenOf('chatUser'))!);
    await reader.subscribe(channel);
    expect((await writer.request('publish', { channel, data: 'hi' })).event).toBe('ack');
    expect((await reader.waitForMessages(channel, 1)).map((m) => m.data)).toEqual(['hi']);
  });
});
