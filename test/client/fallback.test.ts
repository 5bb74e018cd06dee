import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createClient, type ClientEvents, type SquallClient } from '../../client/src/index.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A corporate proxy of the unhelpful kind: it refuses WebSocket upgrades and
 * buffers every response until it ends, so an SSE stream never shows a byte.
 * Only long poll gets through it. It forwards to a real instance and records
 * what the client sent.
 */
async function startBufferingProxy(target: Instance) {
  const seen: Array<{ url: string; authorization?: string }> = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url!, authorization: req.headers.authorization });
    const upstream = request(
      { host: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (_req, socket) => {
    seen.push({ url: _req.url! });
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let instance: Instance;
let proxy: Awaited<ReturnType<typeof startBufferingProxy>>;
const clients: SquallClient[] = [];

beforeAll(async () => {
  instance = await startInstance({ ROLE: 'api,gateway' });
  proxy = await startBufferingProxy(instance);
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await proxy?.close();
  await stopAllInstances();
});

it('falls back from WebSocket to SSE to long poll when a proxy blocks the first two, and delivers through it', async () => {
  const channel = uniqueChannel('sdk-fallback');
  let tokens = 0;
  const client = createClient(proxy.url, {
    WebSocket,
    getToken: () => `tok-${++tokens}`,
    backoff: { initialMs: 50, maxMs: 200 },
    // How long an SSE stream may stay silent before its first line counts as blocked.
    timeouts: { openMs: 1_500, pollSeconds: 5 },
  });
  clients.push(client);
  const fallbacks: Array<ClientEvents['fallback']> = [];
  client.on('fallback', (e) => fallbacks.push(e));
  const seqs: number[] = [];
  let arrived!: () => void;
  const allArrived = new Promise<void>((resolve) => (arrived = resolve));
  const sub = client.subscribe(channel, { after: 0 }, (m) => {
    seqs.push(m.seq);
    if (seqs.length === 3) arrived();
  });
  await sub.ready;

  expect(client.transport).toBe('longpoll');
  expect(fallbacks.map((f) => `${f.from}>${f.to}`)).toEqual(['websocket>sse', 'sse>longpoll']);
  // Publishes go over HTTP with the token as a bearer header; they are committed before the ack.
  const acks = [];
  for (const n of [1, 2, 3]) acks.push(await client.publish(channel, { n }));
  expect(acks.map((a) => [a.seq, a.duplicate])).toEqual([
    [1, false],
    [2, false],
    [3, false],
  ]);
  await allArrived;
  expect(seqs).toEqual([1, 2, 3]);

  // What went over the wire: ?token= on the WebSocket and SSE attempts, Authorization: Bearer on HTTP requests.
  const ws = proxy.seen.filter((s) => s.url.startsWith('/v1/ws'));
  const sse = proxy.seen.filter((s) => s.url.includes('/stream'));
  const polls = proxy.seen.filter((s) => s.url.includes('/poll'));
  const posts = proxy.seen.filter((s) => s.url.endsWith('/messages'));
  expect(ws).toHaveLength(2);
  expect(sse).toHaveLength(2);
  for (const s of [...ws, ...sse]) expect(s.url).toMatch(/[?&]token=tok-\d+/);
  expect(polls.length).toBeGreaterThan(0);
  for (const s of [...polls, ...posts]) expect(s.authorization).toMatch(/^Bearer tok-\d+$/);
  expect(posts).toHaveLength(3);
  // getToken is asked again for every attempt: 2 WebSocket + 2 SSE + the long-poll connect, plus HTTP requests.
  expect(tokens).toBeGreaterThanOrEqual(5);
}, 60_000);

it('a forced transport never falls back', async () => {
  const client = createClient(proxy.url, {
    transport: 'websocket',
    WebSocket,
    backoff: { initialMs: 50, maxMs: 100 },
  });
  clients.push(client);
  const events: string[] = [];
  client.on('fallback', () => events.push('fallback'));
  const disconnects: Array<ClientEvents['disconnected']> = [];
  client.on('disconnected', (e) => disconnects.push(e));
  client.subscribe(uniqueChannel('sdk-forced'), () => undefined);
  await waitFor(() => disconnects.length >= 4, { what: '4 failed attempts' });
  expect(events).toEqual([]);
  // Backoff with jitter, capped at maxMs.
  for (const d of disconnects) expect(d.retryInMs).toBeLessThanOrEqual(100);
  expect(new Set(disconnects.map((d) => d.transport))).toEqual(new Set(['websocket']));
  expect(client.state).not.toBe('connected');
});

it('a service that is down is not taken for a blocked transport: no fallback while nothing answers', async () => {
  // A port nothing listens on: every attempt is refused, HTTP included.
  const down = await startBufferingProxy(instance);
  await down.close();
  const client = createClient(down.url, { WebSocket, backoff: { initialMs: 20, maxMs: 50 } });
  clients.push(client);
  const fallbacks: unknown[] = [];
  client.on('fallback', (e) => fallbacks.push(e));
  const disconnects: Array<ClientEvents['disconnected']> = [];
  client.on('disconnected', (e) => disconnects.push(e));
  client.connect();
  await waitFor(() => disconnects.length >= 5, { what: '5 failed attempts' });
  expect(fallbacks).toEqual([]);
  expect(new Set(disconnects.map((d) => d.transport))).toEqual(new Set(['websocket']));
});
