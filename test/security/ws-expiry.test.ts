import { SignJWT } from 'jose';
import { type AsyncApiContract, loadAsyncApi } from '../support/asyncapi.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { type Frame, TestClient } from '../support/ws-client.js';

/**
 * Token expiry on a WebSocket (issue 10, item 5): `token_expiring` shortly
 * before `exp`, `refresh` with a new token for the same `sub` carries the
 * connection on, and without one it is closed with 4001 at `exp`. Tokens
 * live 3 s; the tests wait on frames and close events, not on the clock.
 */
const SECRET = 'ws-expiry-test-secret-0123456789';
const key = new TextEncoder().encode(SECRET);

interface Claims {
  sub: string;
  subscribe?: string[];
  publish?: string[];
  admin?: boolean;
}

/** A token valid until `exp` (seconds since the epoch). */
const sign = (claims: Claims, exp: number) =>
  new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

let a: Instance;
let b: Instance;
let contract: AsyncApiContract;
const clients: TestClient[] = [];
beforeAll(async () => {
  [a, b, contract] = await Promise.all([
    startInstance({ AUTH_JWT_SECRET: SECRET }),
    startInstance({ AUTH_JWT_SECRET: SECRET }),
    loadAsyncApi(),
  ]);
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stopAllInstances();
});

async function connect(instance: Instance, jwt: string) {
  const c = await TestClient.connect(`${instance.wsUrl}?token=${encodeURIComponent(jwt)}`);
  clients.push(c);
  return c;
}
const expiring = (c: TestClient) =>
  c.until(() => c.frames.find((f) => f.event === 'token_expiring'), 'token_expiring');
const contractProblems = (c: TestClient) =>
  c.frames.map((f) => contract.check('server', f)).filter((p): p is string => p !== undefined);

const reader: Claims = { sub: 'erin', subscribe: ['chat:*', 'news:*'] };

describe('WebSocket token expiry', () => {
  it('a connection that refreshes keeps receiving past the old exp; one that does not is closed with 4001 at exp', async () => {
    const channel = `chat:${uniqueChannel('expiry')}`;
    const exp = inSeconds(3);
    const jwt = await sign(reader, exp);
    const [refreshing, lapsing] = [await connect(a, jwt), await connect(b, jwt)];
    await refreshing.subscribe(channel);
    await lapsing.subscribe(channel);
    const writer = await connect(a, await sign({ sub: 'wes', publish: ['chat:*'] }, inSeconds(3600)));
    expect((await writer.request('publish', { channel, data: 'before exp' })).event).toBe('ack');

    const nextExp = inSeconds(3600);
    const nextToken = await sign(reader, nextExp);
    const [warned] = await Promise.all([expiring(refreshing), expiring(lapsing)]);
    const warning = warned.data as { expiresAt: string; expiresInMs: number };
    expect(warning.expiresAt).toBe(new Date(exp * 1000).toISOString());
    // 60 s before exp, or a tenth of the remaining life when that is less (here < 300 ms).
    expect(warning.expiresInMs).toBeGreaterThan(0);
    expect(warning.expiresInMs).toBeLessThanOrEqual(300);

    const refreshed = await refreshing.request('refresh', { token: nextToken });
    expect(refreshed).toEqual({
      event: 'refreshed',
      data: { expiresAt: new Date(nextExp * 1000).toISOString() },
      ref: refreshed.ref,
    });

    const closed = await lapsing.closed;
    expect(closed).toEqual({ code: 4001, reason: 'token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);

    // Past the original exp, the refreshed connection is open and still delivers.
    expect((await writer.request('publish', { channel, data: 'after exp' })).event).toBe('ack');
    expect((await refreshing.waitForMessages(channel, 2)).map((m) => m.data)).toEqual([
      'before exp',
      'after exp',
    ]);
    expect(refreshing.socket.readyState).toBe(refreshing.socket.OPEN);
    expect(lapsing.received(channel).map((m) => m.data)).toEqual(['before exp']);
    expect([...contractProblems(refreshing), ...contractProblems(lapsing)]).toEqual([]);
  });

  it('a refresh for another sub is forbidden, an invalid one unauthorized; the connection keeps its token', async () => {
    const c = await connect(a, await sign(reader, inSeconds(3600)));
    const other = await c.request('refresh', {
      token: await sign({ sub: 'mallory', admin: true }, inSeconds(3600)),
    });
    expect(other).toEqual({
      event: 'error',
      data: {
        code: 'forbidden',
        message: 'the new token is for another sub; open a new connection to change identity',
      },
      ref: other.ref,
    });
    const bad = await c.request('refresh', { token: 'not-a-jwt' });
    expect(bad).toMatchObject({ event: 'error', data: { code: 'unauthorized' }, ref: bad.ref });
    const expired = await c.request('refresh', { token: await sign(reader, inSeconds(-60)) });
    expect(expired).toMatchObject({ event: 'error', data: { code: 'unauthorized' }, ref: expired.ref });
    const missing = await c.request('refresh', {});
    expect(missing).toMatchObject({ event: 'error', data: { code: 'bad_request' }, ref: missing.ref });
    // Still the old principal: not an admin.
    const forbidden = await c.request('publish', { channel: 'chat:x', data: 1 });
    expect(forbidden).toMatchObject({ event: 'error', data: { code: 'forbidden' } });
    expect(contractProblems(c)).toEqual([]);
  });

  it('a refresh to narrower claims ends the subscriptions it no longer allows, before `refreshed`', async () => {
    const chat = `chat:${uniqueChannel('narrow')}`;
    const news = `news:${uniqueChannel('narrow')}`;
    const c = await connect(b, await sign(reader, inSeconds(3600)));
    await c.subscribe(chat);
    await c.subscribe(news);
    const refreshed = await c.request('refresh', {
      token: await sign({ sub: reader.sub, subscribe: ['news:*'] }, inSeconds(7200)),
    });
    expect(refreshed.event).toBe('refreshed');
    const after = c.frames.slice(c.frames.findIndex((f) => f.ref === refreshed.ref) - 1);
    expect(after).toEqual<Frame[]>([
      { event: 'unsubscribed', data: { channel: chat, reason: 'forbidden' } },
      refreshed,
    ]);
    const writer = await connect(a, await sign({ sub: 'wes', admin: true }, inSeconds(3600)));
    await writer.request('publish', { channel: chat, data: 'gone' });
    await writer.request('publish', { channel: news, data: 'kept' });
    expect((await c.waitForMessages(news, 1)).map((m) => m.data)).toEqual(['kept']);
    expect(c.received(chat)).toEqual([]);
    expect(contractProblems(c)).toEqual([]);
  });
});
