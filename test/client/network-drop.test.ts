import { createServer, type Server, type Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import {
  createClient,
  type ClientEvents,
  type SquallClient,
  type TransportName,
} from '../../client/src/index.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';

/**
 * A network path that goes silent: a TCP relay that, once frozen, forwards
 * nothing more in either direction and closes nothing (a NAT that forgot the
 * flow, a laptop lid). No FIN, no RST: only the client's own liveness checks
 * (WebSocket ping, SSE heartbeat budget, long-poll request timeout) can tell.
 */
async function startRelay(target: Instance) {
  const pairs: Array<[Socket, Socket]> = [];
  let frozen = false;
  const accepted = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    accepted.add(inbound);
    inbound.once('close', () => accepted.delete(inbound));
    if (frozen) return; // a black hole: accepted, never answered
    const outbound = connect(target.port, '127.0.0.1');
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const destroy = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', destroy);
    outbound.on('error', destroy);
    pairs.push([inbound, outbound]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      for (const socket of accepted) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let instance: Instance;
const clients: SquallClient[] = [];
const relays: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  // Heartbeats every second so a healthy SSE stream is never silent for the client's 3 s budget.
  instance = await startInstance({ ROLE: 'api,gateway', SSE_HEARTBEAT_MS: '1000' });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all(relays.map((r) => r.close()));
  await stopAllInstances();
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each<TransportName>(['websocket', 'sse', 'longpoll'])('transport %s', (transport) => {
  it('a path that goes silent is detected, and the stream resumes elsewhere exactly once, in order', async () => {
    const total = 300;
    const relay = await startRelay(instance);
    relays.push(relay);
    const channel = uniqueChannel('sdk-drop');
    const subscriber = createClient([relay.url, instance.url], {
      transport,
      WebSocket,
      backoff: { initialMs: 50, maxMs: 500 },
      timeouts: {
        pingIntervalMs: 500,
        pongTimeoutMs: 1_000,
        sseIdleMs: 3_000,
        pollSeconds: 2,
        openMs: 1_000,
      },
    });
    clients.push(subscriber);
    const disconnects: Array<ClientEvents['disconnected']> = [];
    subscriber.on('disconnected', (e) => disconnects.push(e));
    const seqs: number[] = [];
    const checks: Array<[number, () => void]> = [];
    const onProgress = () => {
      for (const [count, resolve] of checks) if (seqs.length >= count) resolve();
    };
    /** Resolves once `count` messages have arrived (at once if they already have). */
    const reach = (count: number) =>
      new Promise<void>((resolve) => {
        checks.push([count, resolve]);
        onProgress();
      });
    const sub = subscriber.subscribe(channel, { after: 0 }, (m) => {
      seqs.push(m.seq);
      onProgress();
    });
    await sub.ready;
    expect(subscriber.url).toBe(relay.url);

    const publisher = createClient(instance.url, { transport: 'websocket', WebSocket });
    clients.push(publisher);
    const publish = (from: number, to: number) =>
      Promise.all(range(from, to).map((n) => publisher.publish(channel, { n }, { idempotencyKey: `n${n}` })));

    await publish(1, 100);
    await reach(100);
    relay.freeze();
    await publish(101, total);
    await reach(total);
    // The one after: a duplicate still on its way would arrive before it.
    await publisher.publish(channel, { n: total + 1 });
    await reach(total + 1);

    expect(seqs).toEqual(range(1, total + 1));
    expect(disconnects[0].url).toBe(relay.url);
    // Told apart by the client's own liveness check for that transport.
    expect(disconnects[0].reason).toMatch(
      { websocket: /no pong/, sse: /: idle$/, longpoll: /no answer .* within 3000 ms/ }[transport],
    );
    expect(subscriber.url).toBe(instance.url);
  }, 60_000);
});
