import { type RedisHandle, startRedis } from '../../dev/redis-server.js';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { SseClient } from '../support/sse-client.js';
import { TestClient, range, seqs } from '../support/ws-client.js';
import { waitFor } from '../support/wait-for.js';

let redis: RedisHandle;
let a: Instance;
let b: Instance;
const closers: Array<() => void> = [];

beforeAll(async () => {
  redis = await startRedis({ dir: '.squall' });
  const env = { ROLE: 'api,gateway', REDIS_URL: redis.url, HUB_SWEEP_INTERVAL_MS: '1000' };
  [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
});
afterAll(async () => {
  closers.forEach((c) => c());
  await stopAllInstances();
  await redis.stop();
});

describe('Redis restarted mid-stream', () => {
  it('subscribers on both instances still receive every message, in order, exactly once', async () => {
    const channel = uniqueChannel();
    const wsA = await TestClient.connect(a.wsUrl);
    const wsB = await TestClient.connect(b.wsUrl);
    closers.push(
      () => wsA.close(),
      () => wsB.close(),
    );
    await Promise.all([wsA.subscribe(channel), wsB.subscribe(channel)]);
    const sse = await SseClient.open(`${b.url}/v1/channels/${channel}/stream`);
    closers.push(() => sse.close());

    const publish = async (from: number, to: number) => {
      for (const i of range(from, to)) {
        const res = await post(i % 2 ? a.url : b.url, `/v1/channels/${channel}/messages`, { data: { i } });
        // Postgres is up, so every publish is acknowledged even while Redis is down.
        expect(res.status).toBe(201);
        expect(res.body.seq).toBe(i);
      }
    };

    await publish(1, 40);
    await wsB.waitForMessages(channel, 40);

    await redis.stop();
    await waitFor(async () => (await fetch(`${a.url}/health/ready`)).status === 503, { what: 'A to notice' });
    await publish(41, 80);
    // Following a channel this instance does not follow yet needs Redis: a
    // prompt retry-later answer, not a hang.
    const newcomer = await TestClient.connect(a.wsUrl);
    closers.push(() => newcomer.close());
    const refused = await newcomer.request('subscribe', { channel: uniqueChannel() });
    expect(refused.data).toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/Redis is unavailable/),
      retryAfterMs: 2000,
    });
    const poll = await fetch(`${b.url}/v1/channels/${uniqueChannel()}/poll?timeout=1`);
    expect(poll.status).toBe(503);
    expect(poll.headers.get('retry-after')).toBe('2');
    // A poll behind the head is answered from Postgres alone.
    const other = uniqueChannel();
    expect((await post(a.url, `/v1/channels/${other}/messages`, { data: 'x' })).status).toBe(201);
    const behind = await fetch(`${b.url}/v1/channels/${other}/poll?after=0&timeout=1`);
    expect(behind.status).toBe(200);
    expect(await behind.json()).toMatchObject({ messages: [{ seq: 1, data: 'x' }], lastSeq: 1 });

    redis = await startRedis({ dir: '.squall', port: redis.port });
    await waitFor(async () => (await fetch(`${b.url}/health/ready`)).status === 200, {
      what: 'B to reconnect',
    });
    await waitFor(async () => (await fetch(`${a.url}/health/ready`)).status === 200, {
      what: 'A to reconnect',
    });
    await publish(81, 120);

    for (const client of [wsA, wsB])
      expect(seqs(await client.waitForMessages(channel, 120))).toEqual(range(1, 120));
    expect(seqs(await sse.waitForMessages(120))).toEqual(range(1, 120));
  });
});
