import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { type ClientEvents, createClient, type SquallClient } from '../../client/src/index.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';

/**
 * The SDK's `token` option against an instance with a key: sent as `?token=`,
 * called again on `token_expiring` and sent as `refresh`, so a subscription
 * outlives its first token without a reconnect.
 */
const SECRET = 'sdk-token-test-secret-0123456789';
const key = new TextEncoder().encode(SECRET);
const sign = (claims: Record<string, unknown>, exp: number) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

let instance: Instance;
const clients: SquallClient[] = [];
const raw: TestClient[] = [];
beforeAll(async () => {
  instance = await startInstance({ AUTH_JWT_SECRET: SECRET });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  raw.forEach((c) => c.close());
  await stopAllInstances();
});

const claims = { sub: 'sdk-user', subscribe: ['chat:*'], publish: ['chat:*'] };

describe('@squall/client token option', () => {
  it('a token function is called on connect and on token_expiring; the WebSocket refreshes in place and keeps delivering', async () => {
    const channel = `chat:${uniqueChannel('sdk-token')}`;
    const firstExp = inSeconds(3);
    const issued: number[] = [];
    const token = async () => {
      const exp = issued.length === 0 ? firstExp : inSeconds(3600);
      issued.push(exp);
      return sign(claims, exp);
    };
    const c = createClient(instance.url, {
      WebSocket,
      transport: 'websocket',
      token,
      backoff: { initialMs: 50 },
    });
    clients.push(c);
    const events: string[] = [];
    const errors: ClientEvents['error'][] = [];
    c.on('connected', () => events.push('connected'));
    c.on('disconnected', (e) => events.push(`disconnected ${e.code}`));
    c.on('error', (e) => errors.push(e));
    const got: unknown[] = [];
    let delivered!: () => void;
    const first = new Promise<void>((resolve) => (delivered = resolve));
    const sub = c.subscribe(channel, (m) => {
      got.push(m.data);
      delivered();
    });
    await sub.ready;

    // A raw connection holding a token with the same exp is the clock: its 4001 close marks the exp.
    const clock = await TestClient.connect(`${instance.wsUrl}?token=${await sign(claims, firstExp)}`);
    raw.push(clock);
    expect((await clock.closed).code).toBe(4001);

    await c.publish(channel, 'after the first exp');
    await first;
    expect(got).toEqual(['after the first exp']);
    expect(issued).toEqual([firstExp, expect.any(Number)]);
    expect(events).toEqual(['connected']);
    expect(errors).toEqual([]);
  });

  it('a refresh that narrows the claims ends the subscriptions it no longer allows with a forbidden error', async () => {
    const chat = `chat:${uniqueChannel('sdk-narrow')}`;
    const news = `news:${uniqueChannel('sdk-narrow')}`;
    let calls = 0;
    const token = async () =>
      ++calls === 1
        ? sign({ sub: 'sdk-user', subscribe: ['chat:*', 'news:*'] }, inSeconds(3))
        : sign({ sub: 'sdk-user', subscribe: ['news:*'] }, inSeconds(3600));
    const c = createClient(instance.url, {
      WebSocket,
      transport: 'websocket',
      token,
      backoff: { initialMs: 50 },
    });
    clients.push(c);
    const clientErrors: ClientEvents['error'][] = [];
    c.on('error', (e) => clientErrors.push(e));
    const chatSub = c.subscribe(chat, () => undefined);
    const newsSub = c.subscribe(news, () => undefined);
    await Promise.all([chatSub.ready, newsSub.ready]);
    const ended = new Promise<unknown>((resolve) => chatSub.on('error', (e) => resolve(e.error)));
    const error = (await ended) as { code: string };
    expect(error.code).toBe('forbidden');
    expect(calls).toBe(2);
    expect(clientErrors.map((e) => [e.channel, (e.error as { code: string }).code])).toEqual([
      [chat, 'forbidden'],
    ]);
  });

  it('a fixed token that expires: closed with 4001, then the reconnect is refused until the app gives a new token', async () => {
    const c = createClient(instance.url, {
      WebSocket,
      transport: 'websocket',
      token: await sign(claims, inSeconds(2)),
      backoff: { initialMs: 50, maxMs: 200 },
    });
    clients.push(c);
    const disconnected = new Promise<ClientEvents['disconnected']>((resolve) =>
      c.on('disconnected', resolve),
    );
    c.connect();
    expect((await disconnected).code).toBe(4001);
  });
});
