import { type AsyncApiContract, loadAsyncApi } from '../support/asyncapi.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { SseClient } from '../support/sse-client.js';
import { TestClient } from '../support/ws-client.js';

let app: Instance;
let contract: AsyncApiContract & { errors: string[] };
const clients: TestClient[] = [];
const streams: SseClient[] = [];
beforeAll(async () => {
  [app, contract] = await Promise.all([startInstance({ MAX_MESSAGE_BYTES: '1000' }), loadAsyncApi()]);
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  streams.forEach((s) => s.close());
  await stopAllInstances();
});

const connect = async () => {
  const c = await TestClient.connect(app.wsUrl);
  clients.push(c);
  return c;
};

const WS_EVENTS = {
  client: ['subscribe', 'unsubscribe', 'publish', 'ping', 'refresh'],
  server: ['subscribed', 'unsubscribed', 'ack', 'pong', 'refreshed', 'token_expiring', 'message', 'error'],
};
/** Sent only for a token with `exp`, which open mode has none of: test/security/ws-expiry.test.ts checks it against the contract. */
const TOKEN_MODE_ONLY = ['token_expiring'];

describe('docs/asyncapi.yaml', () => {
  it('parses and validates with @asyncapi/parser and describes every WebSocket frame and the SSE event', () => {
    expect(contract.errors).toEqual([]);
    expect(contract.document.version()).toMatch(/^3\./);
    expect([...contract.frames.client.keys()].sort()).toEqual([...WS_EVENTS.client].sort());
    expect([...contract.frames.server.keys()].sort()).toEqual([...WS_EVENTS.server].sort());
  });

  it('matches the frames a live instance exchanges: subscribe, replay, publish, ack, ping, unsubscribe, errors', async () => {
    const channel = uniqueChannel('asyncapi');
    const [reader, writer] = [await connect(), await connect()];
    // Deliberately malformed or refused frames: the schemas need not accept
    // these, but every answer to them must match the `error` frame.
    const refused = [
      '{not json',
      { event: 'dance', data: {}, ref: 'd' },
      { event: 'publish', data: { channel: 'job:1', data: 1 }, ref: 'j' },
      { event: 'publish', data: { channel, data: 'x'.repeat(2000) }, ref: 'big' },
      { event: 'subscribe', data: { channel: 'no spaces allowed' }, ref: 'name' },
    ];

    expect((await writer.request('publish', { channel, data: { n: 1 } })).event).toBe('ack');
    expect((await writer.request('publish', { channel, data: { n: 2 }, idempotencyKey: 'k-2' })).event).toBe(
      'ack',
    );
    const duplicate = await writer.request('publish', { channel, data: { n: 2 }, idempotencyKey: 'k-2' });
    expect(duplicate.data).toMatchObject({ seq: 2, duplicate: true });
    await reader.subscribe(channel, 0);
    await reader.waitForMessages(channel, 2);
    expect((await writer.request('publish', { channel, data: null, idempotencyKey: null })).event).toBe(
      'ack',
    );
    await reader.waitForMessages(channel, 3);
    expect(await reader.request('ping', {})).toEqual({ event: 'pong', data: {}, ref: expect.any(String) });
    reader.send({ event: 'ping' }); // data and ref may be left out
    await reader.until(
      () => reader.frames.some((f) => f.event === 'pong' && f.ref === undefined),
      'bare pong',
    );
    expect((await reader.request('unsubscribe', { channel })).event).toBe('unsubscribed');
    // Open mode: any token refreshes to open access, which never expires.
    expect(await reader.request('refresh', { token: 'open-mode' })).toMatchObject({
      event: 'refreshed',
      data: { expiresAt: null },
    });

    for (const frame of refused) reader.send(frame);
    // A ping answered means every earlier frame was (pipelining contract).
    await reader.request('ping', {});
    const errors = reader.frames.filter((f) => f.event === 'error').map((f) => f.data.code);
    expect(errors).toEqual(['bad_request', 'bad_request', 'forbidden', 'payload_too_large', 'bad_request']);

    const problems: string[] = [];
    for (const c of [reader, writer]) {
      for (const frame of c.sent.filter((f) => !refused.includes(f as never))) {
        const problem = contract.check('client', frame);
        if (problem) problems.push(`sent ${problem}`);
      }
      for (const frame of c.frames) {
        const problem = contract.check('server', frame);
        if (problem) problems.push(`received ${problem}`);
      }
    }
    expect(problems).toEqual([]);
    const seen = new Set([...reader.frames, ...writer.frames].map((f) => f.event));
    expect([...seen].sort()).toEqual(WS_EVENTS.server.filter((e) => !TOKEN_MODE_ONLY.includes(e)).sort());
  });

  it('matches the events of a live SSE stream', async () => {
    const channel = uniqueChannel('asyncapi-sse');
    const writer = await connect();
    for (const n of [1, 2]) await writer.request('publish', { channel, data: { n } });
    const stream = await SseClient.open(`${app.url}/v1/channels/${channel}/stream?after=0`);
    streams.push(stream);
    await writer.request('publish', { channel, data: 'live' });
    await stream.waitForMessages(3);
    for (const event of stream.events) {
      const message = JSON.parse(event.data);
      expect(event.event).toBe('message');
      expect(event.id).toBe(String(message.seq));
      expect(contract.sseMessage(message)).toBe(true);
    }
  });

  it('refuses frames that break the contract, so the checks above can fail', () => {
    const message = {
      channel: 'a',
      seq: 1,
      id: '0d6c6f0e-8a43-4bb8-9f0b-0a7d3a1c2f11',
      data: 1,
      publishedAt: '2026-11-26T05:44:49.252Z',
    };
    expect(contract.check('server', { event: 'message', data: message })).toBeUndefined();
    const broken = [
      { event: 'message', data: { ...message, seq: undefined } },
      { event: 'message', data: { ...message, seq: 0 } },
      { event: 'message', data: { ...message, extra: 1 } },
      { event: 'subscribed', data: { channel: 'a' } },
      { event: 'ack', data: { channel: 'a', seq: 1, id: 'not-a-uuid' } },
      { event: 'error', data: { code: 'teapot', message: 'x' } },
      { event: 'pong', data: {}, ref: '' },
      { event: 'subscribe', data: { channel: 'a' } },
    ];
    for (const frame of broken) expect(contract.check('server', frame)).toEqual(expect.any(String));
    expect(contract.check('client', { event: 'subscribe', data: { channel: 'a', after: -1 } })).toEqual(
      expect.any(String),
    );
    expect(contract.check('client', { event: 'publish', data: { channel: 'a' } })).toEqual(
      expect.any(String),
    );
    expect(contract.sseMessage({ ...message, publishedAt: 'yesterday' })).toBe(false);
  });
});
