import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitForMetric } from '../support/metrics.js';
import { pollUntil } from '../support/poller.js';
import { SseClient } from '../support/sse-client.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

let a: Instance;
let b: Instance;
const clients: TestClient[] = [];
const streams: SseClient[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([
    startInstance({ ROLE: 'api,gateway' }),
    startInstance({ ROLE: 'api,gateway' }),
  ]);
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  streams.forEach((s) => s.close());
  await stopAllInstances();
});

const connect = async (i: Instance) => {
  const c = await TestClient.connect(i.wsUrl);
  clients.push(c);
  return c;
};

describe('fan-out across instances', () => {
  it('a WebSocket subscriber on B receives what is published on A', async () => {
    const channel = uniqueChannel();
    const sub = await connect(b);
    const reply = await sub.subscribe(channel);
    expect(reply.data).toEqual({ channel, lastSeq: 0, instance: expect.any(String) });
    const published = await post(a.url, `/v1/channels/${channel}/messages`, { data: { hello: 'from A' } });
    expect(published.status).toBe(201);
    const [msg] = await sub.waitForMessages(channel, 1);
    expect(msg).toEqual(published.body);
    expect(msg).toMatchObject({ channel, seq: 1, data: { hello: 'from A' } });
  });

  it('200 parallel REST publishes through two instances get seqs exactly 1..200, seen in order by WS, SSE and long-poll subscribers on both', async () => {
    const channel = uniqueChannel();
    const wsA = await connect(a);
    const wsB = await connect(b);
    await Promise.all([wsA.subscribe(channel), wsB.subscribe(channel)]);
    const sse = await SseClient.open(`${b.url}/v1/channels/${channel}/stream`);
    streams.push(sse);
    expect(sse.status).toBe(200);
    const poll = pollUntil(a.url, channel, 200);

    const results = await Promise.all(
      range(1, 200).map((i) =>
        post(i % 2 ? a.url : b.url, `/v1/channels/${channel}/messages`, { data: { i } }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(results.map((r) => r.body.seq).sort((x, y) => x - y)).toEqual(range(1, 200));

    expect(seqs(await wsA.waitForMessages(channel, 200))).toEqual(range(1, 200));
    expect(seqs(await wsB.waitForMessages(channel, 200))).toEqual(range(1, 200));
    expect(seqs(await sse.waitForMessages(200))).toEqual(range(1, 200));
    expect(seqs(await poll)).toEqual(range(1, 200));
    // Each message is the one that was acknowledged for its seq.
    const bySeq = new Map(results.map((r) => [r.body.seq, r.body.id]));
    expect(wsB.received(channel).every((m) => bySeq.get(m.seq) === m.id)).toBe(true);
  });

  it('concurrent WebSocket publishers on both instances: every subscriber sees 1..N once, and each publisher keeps its own order', async () => {
    const channel = uniqueChannel();
    const subs = [await connect(a), await connect(b)];
    await Promise.all(subs.map((s) => s.subscribe(channel)));
    const publishers = [await connect(a), await connect(b), await connect(a), await connect(b)];
    const perPublisher = 40;
    const acks = await Promise.all(
      publishers.map((p, n) =>
        Promise.all(range(1, perPublisher).map((i) => p.request('publish', { channel, data: { p: n, i } }))),
      ),
    );
    for (const list of acks) {
      expect(list.every((f) => f.event === 'ack')).toBe(true);
      const order = list.map((f) => f.data.seq as number);
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    const total = publishers.length * perPublisher;
    for (const s of subs) expect(seqs(await s.waitForMessages(channel, total))).toEqual(range(1, total));
  });

  it('a long poll waiting on B answers as soon as A publishes', async () => {
    const channel = uniqueChannel();
    const waiting = fetch(`${b.url}/v1/channels/${channel}/poll?after=0&timeout=30`).then((r) => r.json());
    // The poll is registered on B once B follows the channel; wait for that.
    await waitForMetric(b, 'squall_hub_channels', (n) => n >= 1);
    const pub = await post(a.url, `/v1/channels/${channel}/messages`, { data: 'wake' });
    const body = await waiting;
    expect(body).toEqual({ messages: [pub.body], lastSeq: 1 });
  });
});
