import { hostname } from 'node:os';
import { query } from '../support/database.js';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { SseClient } from '../support/sse-client.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

let a: Instance;
let b: Instance;
const closers: Array<() => void> = [];

beforeAll(async () => {
  [a, b] = await Promise.all([
    startInstance({ ROLE: 'api,gateway' }),
    startInstance({ ROLE: 'api,gateway' }),
  ]);
});
afterAll(async () => {
  closers.forEach((c) => c());
  await stopAllInstances();
});

/**
 * Publishes `total` messages through both instances, `concurrency` at a time,
 * calling `onHead(seq)` after each acknowledged publish so a test can act
 * while the stream is still flowing.
 */
async function publishFlow(
  channel: string,
  total: number,
  onHead: (seq: number) => Promise<void> | void,
  concurrency = 4,
) {
  let next = 1;
  let head = 0;
  const worker = async () => {
    while (next <= total) {
      const i = next++;
      const res = await post(i % 2 ? a.url : b.url, `/v1/channels/${channel}/messages`, { data: { i } });
      if (res.status !== 201) throw new Error(`publish ${i}: ${res.status}`);
      head = Math.max(head, res.body.seq);
      await onHead(head);
    }
  };
  await Promise.all(range(1, concurrency).map(worker));
}

describe('resume', () => {
  it('subscribing with after while publishes race it delivers after+1..N exactly once, in order', async () => {
    const channel = uniqueChannel();
    const total = 300;
    const joins = [20, 90, 160, 240];
    const resumed: Array<{ client: TestClient; after: number; lastSeq: number }> = [];
    const joining: Promise<void>[] = [];
    await publishFlow(channel, total, (head) => {
      if (joins.length && head >= joins[0]) {
        joins.shift();
        // Ask for history from well before the head, on alternating instances.
        const after = Math.floor(head / 3);
        const target = resumed.length % 2 ? a : b;
        joining.push(
          (async () => {
            const client = await TestClient.connect(target.wsUrl);
            closers.push(() => client.close());
            const reply = await client.subscribe(channel, after);
            resumed.push({ client, after, lastSeq: reply.data.lastSeq as number });
          })(),
        );
      }
    });
    await Promise.all(joining);
    expect(resumed).toHaveLength(4);
    for (const { client, after, lastSeq } of resumed) {
      expect(lastSeq).toBeGreaterThanOrEqual(after);
      const got = await client.waitForMessages(channel, total - after);
      expect(seqs(got)).toEqual(range(after + 1, total));
    }
  });

  it('a client that disconnects and resubscribes with after = its last seq misses nothing and gets nothing twice', async () => {
    const channel = uniqueChannel();
    const total = 150;
    let first = await TestClient.connect(a.wsUrl);
    await first.subscribe(channel);
    const received: number[] = [];
    let dropped = false;
    const reconnecting: Promise<void>[] = [];
    await publishFlow(channel, total, async (head) => {
      if (!dropped && head >= 50) {
        dropped = true;
        reconnecting.push(
          (async () => {
            await first.waitForMessages(channel, 30);
            first.close();
            await first.closed;
            received.push(...seqs(first.received(channel)));
            first = await TestClient.connect(b.wsUrl);
            closers.push(() => first.close());
            await first.subscribe(channel, received[received.length - 1]);
          })(),
        );
      }
    });
    await Promise.all(reconnecting);
    const last = received[received.length - 1];
    const rest = await first.waitForMessages(channel, total - last);
    expect([...received, ...seqs(rest)]).toEqual(range(1, total));
  });

  it('SSE resumes exactly after Last-Event-ID while publishes continue', async () => {
    const channel = uniqueChannel();
    const total = 120;
    const sse = await SseClient.open(`${a.url}/v1/channels/${channel}/stream?after=0`);
    closers.push(() => sse.close());
    let resumed: SseClient | undefined;
    let lastId = 0;
    const resuming: Promise<void>[] = [];
    await publishFlow(channel, total, (head) => {
      if (!resumed && head >= 40) {
        resumed = {} as SseClient;
        resuming.push(
          (async () => {
            await sse.waitForMessages(25);
            sse.close();
            await sse.ended;
            const events = sse.events.filter((e) => e.event === 'message');
            lastId = Number(events[events.length - 1].id);
            // `after` says 0, but Last-Event-ID (what EventSource sends) wins.
            resumed = await SseClient.open(`${b.url}/v1/channels/${channel}/stream?after=0`, {
              'Last-Event-ID': String(lastId),
            });
            closers.push(() => resumed!.close());
          })(),
        );
      }
    });
    await Promise.all(resuming);
    const before = sse.messages();
    expect(seqs(before)).toEqual(range(1, lastId));
    const after = await resumed!.waitForMessages(total - lastId);
    expect(seqs(after)).toEqual(range(lastId + 1, total));
    expect(resumed!.events.every((e) => e.id === String(JSON.parse(e.data).seq))).toBe(true);
  });

  it('resuming from before the retained window answers truncated and delivers what remains', async () => {
    const channel = uniqueChannel();
    for (const i of range(1, 10)) await post(a.url, `/v1/channels/${channel}/messages`, { data: i });
    // What the retention job does: drop the oldest messages, keep the counter.
    await query(process.env.DATABASE_URL!, 'DELETE FROM messages WHERE channel = $1 AND seq <= 5', [channel]);

    const client = await TestClient.connect(b.wsUrl);
    closers.push(() => client.close());
    const reply = await client.subscribe(channel, 2);
    expect(reply.data).toEqual({
      channel,
      lastSeq: 10,
      truncated: true,
      instance: `${hostname()}:${b.port}`,
    });
    expect(seqs(await client.waitForMessages(channel, 5))).toEqual(range(6, 10));

    const inWindow = await client.request('subscribe', { channel, after: 7 });
    expect(inWindow.data).toEqual({ channel, lastSeq: 10, instance: `${hostname()}:${b.port}` });

    const sse = await SseClient.open(`${a.url}/v1/channels/${channel}/stream?after=0`);
    closers.push(() => sse.close());
    expect(seqs(await sse.waitForMessages(5))).toEqual(range(6, 10));
    expect(sse.comments).toContain('subscribed lastSeq=10 truncated=true');

    const history = await get(a.url, `/v1/channels/${channel}/messages?after=2`);
    expect(history.body).toMatchObject({ lastSeq: 10, truncated: true });
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual(range(6, 10));
    const inside = await get(a.url, `/v1/channels/${channel}/messages?after=6`);
    expect(inside.body.truncated).toBeUndefined();
    const poll = await get(b.url, `/v1/channels/${channel}/poll?after=0&timeout=0`);
    expect(poll.body).toMatchObject({ lastSeq: 10, truncated: true });
  });
});
