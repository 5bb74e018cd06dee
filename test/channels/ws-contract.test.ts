import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import { publishBlobs, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitForMetric } from '../support/metrics.js';
import { loadAsyncApi } from '../support/asyncapi.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

let gw: Instance;
const clients: TestClient[] = [];
beforeAll(async () => {
  gw = await startInstance({
    ROLE: 'api,gateway',
    MAX_MESSAGE_BYTES: '40000',
    WS_MAX_SUBSCRIPTIONS: '3',
    WS_PING_INTERVAL_MS: '1000',
    WS_MAX_BUFFERED_BYTES: '65536',
  });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stopAllInstances();
});

const connect = async (instance = gw, options = {}) => {
  const c = await TestClient.connect(instance.wsUrl, options);
  clients.push(c);
  return c;
};

describe('WebSocket contract', () => {
  it('answers malformed frames and unknown events with an error frame and keeps the connection open', async () => {
    const c = await connect();
    const bad = [
      '{not json',
      '[1,2]',
      '"text"',
      JSON.stringify({ data: {} }),
      JSON.stringify({ event: 'ping', data: 5 }),
    ];
    for (const [i, frame] of bad.entries()) {
      c.send(frame);
      await c.until(() => c.frames.filter((f) => f.event === 'error').length === i + 1, `error ${i + 1}`);
    }
    const errors = c.frames.filter((f) => f.event === 'error');
    expect(errors.map((f) => f.data.code)).toEqual(Array(bad.length).fill('bad_request'));
    expect(errors[0].data.message).toMatch(/not valid JSON/);

    const unknown = await c.request('dance', {});
    expect(unknown).toEqual({
      event: 'error',
      data: { code: 'bad_request', message: 'unknown event "dance"' },
      ref: expect.any(String),
    });
    expect(await c.request('ping', {})).toEqual({ event: 'pong', data: {}, ref: expect.any(String) });
  });

  it('answers a WebSocket upgrade on an unknown path with 404, not a hang-up', async () => {
    const socket = new WebSocket(gw.wsUrl.replace('/v1/ws', '/ws'));
    const [, res] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(404);
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(JSON.parse(body)).toMatchObject({ statusCode: 404, message: 'no WebSocket endpoint at /ws' });
  });

  it('survives a malformed upgrade URL (400) and clients that reset while being answered', async () => {
    const upgrade = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const raw = async (path: string) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(upgrade(path));
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      socket.resetAndDestroy();
      return chunk.toString();
    };
    expect(await raw('http://[/')).toMatch(/^HTTP\/1.1 400/);
    for (let i = 0; i < 5; i++) expect(await raw('/ws')).toMatch(/^HTTP\/1.1 404/);
    expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    expect(gw.process.exitCode).toBeNull();
  });

  it('answers pipelined frames in the order they were sent, errors and pongs included', async () => {
    const c = await connect();
    const channel = uniqueChannel();
    const frames: string[] = [];
    for (let i = 0; i < 5; i++) {
      frames.push(JSON.stringify({ event: 'publish', data: { channel, data: { i } }, ref: `pub${i}` }));
      frames.push(JSON.stringify({ event: 'ping', data: {}, ref: `ping${i}` }));
      frames.push(JSON.stringify({ event: 'dance', data: {}, ref: `dance${i}` }));
      frames.push(JSON.stringify({ event: 'subscribe', data: {}, ref: `bad${i}` }));
    }
    frames.forEach((f) => c.send(f));
    await c.until(() => c.frames.length >= frames.length, 'all replies');
    expect(c.frames.map((f) => f.ref)).toEqual(frames.map((f) => JSON.parse(f).ref));
    expect(c.frames.filter((f) => f.event === 'ack').map((f) => f.data.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it.each([
    [
      'subscribe to a bad channel name',
      'subscribe',
      { channel: 'no spaces' },
      'bad_request',
      /channel must match/,
    ],
    ['subscribe without channel', 'subscribe', {}, 'bad_request', /channel is required/],
    ['subscribe with after=-1', 'subscribe', { channel: 'ok', after: -1 }, 'bad_request', /after/],
    ['publish without data', 'publish', { channel: 'ok' }, 'bad_request', /data is required/],
    ['publish to job:*', 'publish', { channel: 'job:1', data: 1 }, 'forbidden', /service/],
    [
      'publish over MAX_MESSAGE_BYTES',
      'publish',
      { channel: 'ok', data: 'x'.repeat(50_000) },
      'payload_too_large',
      /limit is 40000/,
    ],
  ])('%s → error %s, connection stays open', async (_name, event, data, code, message) => {
    const c = await connect();
    const reply = await c.request(event, data);
    expect(reply.event).toBe('error');
    expect(reply.data.code).toBe(code);
    expect(reply.data.message).toMatch(message as RegExp);
    expect((await c.request('ping', {})).event).toBe('pong');
  });

  it('publish acks {channel, seq, id}; a reused idempotencyKey acks the original', async () => {
    const c = await connect();
    const channel = uniqueChannel('ws');
    const ack = await c.request('publish', { channel, data: { a: 1 }, idempotencyKey: 'k1' });
    expect(ack).toEqual({
      event: 'ack',
      data: { channel, seq: 1, id: expect.any(String) },
      ref: expect.any(String),
    });
    const dup = await c.request('publish', { channel, data: { a: 2 }, idempotencyKey: 'k1' });
    expect(dup.data).toEqual({ ...ack.data, duplicate: true });
    expect(await c.request('unsubscribe', { channel })).toMatchObject({
      event: 'unsubscribed',
      data: { channel },
    });
  });

  it('limits subscriptions per connection', async () => {
    const c = await connect();
    for (const i of range(1, 3)) await c.subscribe(uniqueChannel(`lim${i}`));
    const fourth = await c.request('subscribe', { channel: uniqueChannel('lim4') });
    expect(fourth.data).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/limit of 3/) });
  });

  it('closes with 1009 only for a frame over the hard ceiling', async () => {
    const c = await connect();
    c.send('x'.repeat(400_000));
    expect((await c.closed).code).toBe(1009);
  });

  it('terminates a peer that misses two pings, and keeps one that answers', async () => {
    const silent = await connect(gw, { autoPong: false });
    const alive = await connect();
    let pings = 0;
    alive.socket.on('ping', () => pings++);
    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // terminated, no close frame
    expect(pings).toBeGreaterThanOrEqual(2);
    expect((await alive.request('ping', {})).event).toBe('pong');
  });

  it('closes a slow reader with 1013 while a fast one keeps its stream', async () => {
    // Its own instance: with the 1 s heartbeat above, a paused reader would be
    // terminated for missing pings before its buffer fills.
    const instance = await startInstance({ ROLE: 'api,gateway', WS_MAX_BUFFERED_BYTES: '65536' });
    const channel = uniqueChannel('slow');
    const fast = await connect(instance);
    const slow = await connect(instance);
    await Promise.all([fast.subscribe(channel), slow.subscribe(channel)]);
    // Stop reading on the slow client: the server's unsent buffer grows.
    const rawSocket = (slow.socket as unknown as { _socket: import('node:net').Socket })._socket;
    rawSocket.pause();

    const total = 600;
    await publishBlobs(instance.url, channel, total);
    expect(seqs(await fast.waitForMessages(channel, total, 60_000))).toEqual(range(1, total));

    rawSocket.resume();
    const closed = await slow.closed;
    // 1013 when it reads its close frame within SLOW_CONSUMER_GRACE_MS, else
    // the cut (1006) that follows: both mean "reconnect and resume".
    expect([1013, 1006]).toContain(closed.code);
    // What it did get is an in-order prefix: it can resume with after = its last seq.
    const got = seqs(slow.received(channel));
    expect(got).toEqual(range(1, got.length));
    expect(got.length).toBeLessThan(total);
  });

  it('disconnects an SSE reader that stopped reading, and the process carries on', async () => {
    const instance = await startInstance({
      ROLE: 'api,gateway',
      WS_MAX_BUFFERED_BYTES: '65536',
      SSE_HEARTBEAT_MS: '1000',
    });
    const channel = uniqueChannel('slowsse');
    const fast = await connect(instance);
    await fast.subscribe(channel);
    const { request } = await import('node:http');
    let slow: import('node:http').IncomingMessage | undefined;
    const slowClosed = new Promise<void>((resolve, reject) => {
      const req = request(`${instance.url}/v1/channels/${channel}/stream`, (res) => {
        expect(res.statusCode).toBe(200);
        slow = res;
        res.pause(); // stop reading: the server's unsent buffer grows
        res.socket.pause();
        res.on('close', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    await waitForMetric(instance, 'squall_hub_subscribers', (n) => n === 2);
    const total = 600;
    await publishBlobs(instance.url, channel, total);
    expect(seqs(await fast.waitForMessages(channel, total, 60_000))).toEqual(range(1, total));
    // Read again: what the kernel holds drains, then the server's cut shows.
    slow!.socket.resume();
    slow!.resume();
    await slowClosed;
    expect(slow!.complete).toBe(false); // cut, not ended: it resumes with Last-Event-ID
    await waitForMetric(instance, 'squall_hub_subscribers', (n) => n === 1);
    expect((await fetch(`${instance.url}/health/live`)).status).toBe(200);
    expect(await instance.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('closes every WebSocket with 1001 on SIGTERM and exits 0', async () => {
    const instance = await startInstance({ ROLE: 'gateway' });
    const c = await TestClient.connect(instance.wsUrl);
    await c.subscribe(uniqueChannel('bye'));
    const [status, closed] = await Promise.all([instance.stop('SIGTERM'), c.closed]);
    expect(closed.code).toBe(1001);
    expect(status).toEqual({ code: 0, signal: null });
  });
});

// Runs last: every frame the tests above exchanged, checked against the
// schemas of docs/asyncapi.yaml. Received frames must all match; a sent frame
// must match unless the server refused it (the tests send malformed frames on
// purpose), which shows as an `error` reply to its ref, or as no ref at all.
describe('WebSocket contract in docs/asyncapi.yaml', () => {
  it('describes every frame the contract tests sent and received', async () => {
    const contract = await loadAsyncApi();
    expect(contract.errors).toEqual([]);
    const problems: string[] = [];
    let checked = 0;
    for (const c of clients) {
      for (const frame of c.frames) {
        checked++;
        const problem = contract.check('server', frame);
        if (problem) problems.push(`received ${problem}`);
      }
      for (const frame of c.sent) {
        const ref = (frame as { ref?: unknown })?.ref;
        if (typeof frame !== 'object' || typeof ref !== 'string') continue;
        const reply = c.frames.find((f) => f.ref === ref);
        if (!reply || reply.event === 'error') continue;
        checked++;
        const problem = contract.check('client', frame);
        if (problem) problems.push(`sent ${problem}`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });
});
