import type { Socket } from 'node:net';
import { post, publishBlobs, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { metric } from '../support/metrics.js';
import { SseClient } from '../support/sse-client.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

/** A small slow-consumer limit, so a few MiB of traffic is "too much". */
const LIMIT = 256 * 1024;
let instance: Instance;
const closers: Array<() => void> = [];

beforeAll(async () => {
  instance = await startInstance({ ROLE: 'api,gateway', WS_MAX_BUFFERED_BYTES: String(LIMIT) });
});
afterAll(async () => {
  closers.forEach((c) => c());
  await stopAllInstances();
});

const tcpOf = (client: TestClient) => (client.socket as unknown as { _socket: Socket })._socket;

/** Reads `socket` in short bursts: a client that keeps up, but only just, like one on a real network link. */
function readSteadily(socket: Socket): () => void {
  let reading = true;
  socket.pause();
  const timer = setInterval(() => {
    socket.resume();
    setImmediate(() => reading && socket.pause());
  }, 5);
  return () => {
    reading = false;
    clearInterval(timer);
    socket.resume();
  };
}

describe('slow consumers', () => {
  it('a WebSocket client that stops reading is closed with 1013 and its subscriptions end within 1 s', async () => {
    const channel = uniqueChannel('slow');
    const client = await TestClient.connect(instance.wsUrl);
    closers.push(() => client.socket.terminate());
    await client.subscribe(channel);
    expect(await metric(instance, 'squall_hub_subscribers')).toBe(1);
    tcpOf(client).pause();

    const dropped = () => metric(instance, 'squall_slow_consumers_dropped_total');
    const before = await dropped();
    for (let sent = 0; (await dropped()) === before; sent += 20) {
      expect(sent).toBeLessThan(2000); // a few MiB past the limit is plenty
      await publishBlobs(instance.url, channel, 20, 32_000);
    }
    const closedAt = Date.now();
    // Its close frame sits behind everything it did not read; the hub must
    // not keep feeding (and reading history for) it meanwhile.
    await waitFor(async () => (await metric(instance, 'squall_hub_subscribers')) === 0, {
      timeoutMs: 1000,
      intervalMs: 20,
      what: 'the hub to drop the closed connection',
    });
    expect(Date.now() - closedAt).toBeLessThan(1000);
    tcpOf(client).resume();
    // What it finally reads ends with the 1013 (or a cut, once the grace is over).
    expect([1013, 1006]).toContain((await client.closed).code);
  });

  it('a 20 MiB WebSocket replay to a client reading at a steady pace completes without a 1013', async () => {
    const channel = uniqueChannel('replay');
    const count = 320; // 320 × 64 KB ≈ 20 MiB, eighty times the slow-consumer limit
    await publishBlobs(instance.url, channel, count, 64_000);
    const client = await TestClient.connect(instance.wsUrl);
    closers.push(() => client.close());
    const stopReading = readSteadily(tcpOf(client));
    try {
      await client.subscribe(channel, 0);
      const got = await client.waitForMessages(channel, count, 60_000);
      expect(seqs(got)).toEqual(range(1, count));
    } finally {
      stopReading();
    }
    // Still open and live after the replay.
    expect((await post(instance.url, `/v1/channels/${channel}/messages`, { data: 'live' })).status).toBe(201);
    expect(seqs(await client.waitForMessages(channel, count + 1))).toEqual(range(1, count + 1));
  });

  it('a 20 MiB SSE replay completes without the stream being cut', async () => {
    const channel = uniqueChannel('replay-sse');
    const count = 320;
    await publishBlobs(instance.url, channel, count, 64_000);
    const sse = await SseClient.open(`${instance.url}/v1/channels/${channel}/stream?after=0`);
    closers.push(() => sse.close());
    const got = await sse.waitForMessages(count, 60_000);
    expect(seqs(got)).toEqual(range(1, count));
  });
});
