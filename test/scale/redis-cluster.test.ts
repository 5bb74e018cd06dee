import { Cluster } from 'ioredis';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { FAST_WORKER, isolatedEnv, submit, waitForState } from '../support/jobs.js';
import { type RedisClusterHandle, redisCli, startRedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

/**
 * Squall on a real Redis Cluster (3 masters, REDIS_CLUSTER_NODES): sharded
 * pub/sub fan-out between two instances, a master restarted mid-stream, and
 * BullMQ jobs under the hash-tagged prefix.
 */
let cluster: RedisClusterHandle;
let probe: Cluster;
let a: Instance;
let b: Instance;
let prefix: string;
const closers: Array<() => void> = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  probe = new Cluster(
    cluster.nodes.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })),
  );
  const env: Record<string, string> = {
    ...(await isolatedEnv()),
    REDIS_URL: '',
    REDIS_CLUSTER_NODES: cluster.nodes,
    // No periodic sweep within the test: what a lost shard missed must come
    // from the broker's resync once the shard's subscriber is back.
    HUB_SWEEP_INTERVAL_MS: '600000',
  };
  prefix = env.REDIS_KEY_PREFIX;
  [a, b] = await Promise.all([
    startInstance({ ...env, ...FAST_WORKER, ROLE: 'api,gateway,worker' }),
    startInstance({ ...env, ROLE: 'api,gateway' }),
  ]);
}, 50_000);

afterAll(async () => {
  closers.forEach((c) => c());
  await stopAllInstances();
  probe?.disconnect();
  await cluster?.stop();
});

/** The port of the master owning `key`'s slot. */
async function ownerPort(key: string): Promise<number> {
  const slot = Number(await probe.cluster('KEYSLOT', key));
  const slots = await probe.cluster('SLOTS');
  const owner = slots.find(([from, to]) => slot >= from && slot <= to)!;
  return owner[2][1];
}

/** One fresh channel per master, so the test crosses every shard. */
async function channelsOnEveryShard(): Promise<Map<number, string>> {
  const byPort = new Map<number, string>();
  while (byPort.size < cluster.ports.length) {
    const channel = uniqueChannel('cl');
    const port = await ownerPort(`${prefix}:ch:${channel}`);
    if (!byPort.has(port)) byPort.set(port, channel);
  }
  return byPort;
}

/** Broker publishes `instance` logged as failed for `channel` (fire-and-forget: the hubs resync). */
function failedPublishes(instance: Instance, channel: string): number {
  return instance
    .output()
    .split('\n')
    .filter((line) => line.includes('broker publish failed') && line.includes(`"channel":"${channel}"`))
    .length;
}

async function publishRange(channel: string, from: number, to: number): Promise<void> {
  for (const i of range(from, to)) {
    const res = await post(a.url, `/v1/channels/${channel}/messages`, { data: { i } });
    expect(res.status).toBe(201);
    expect(res.body.seq).toBe(i);
  }
}

describe('Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('fans out through sharded pub/sub: B receives every seq published on A, in order, on every shard', async () => {
    const channels = [...(await channelsOnEveryShard()).values()];
    const ws = await TestClient.connect(b.wsUrl);
    closers.push(() => ws.close());
    for (const channel of channels) await ws.subscribe(channel);

    // The channels are shard channels: the owning master counts B's SSUBSCRIBE, no other does.
    for (const channel of channels) {
      const key = `${prefix}:ch:${channel}`;
      const owner = await ownerPort(key);
      for (const port of cluster.ports) {
        const count = (await redisCli(port, 'pubsub', 'shardnumsub', key)).trim().split('\n')[1];
        expect([port, count]).toEqual([port, port === owner ? '1' : '0']);
      }
      expect((await redisCli(owner, 'pubsub', 'numsub', key)).trim().split('\n')[1]).toBe('0');
    }

    await Promise.all(channels.map((c) => publishRange(c, 1, 30)));
    for (const channel of channels) {
      await ws.waitForMessages(channel, 30, 15_000);
      expect(seqs(ws.received(channel))).toEqual(range(1, 30));
    }
  });

  it('a master restarted mid-stream: subscribers still get every seq exactly once', async () => {
    const byPort = await channelsOnEveryShard();
    const victim = 0;
    const onVictim = byPort.get(cluster.ports[victim])!;
    const channels = [...byPort.values()];
    const ws = await TestClient.connect(b.wsUrl);
    closers.push(() => ws.close());
    for (const channel of channels) await ws.subscribe(channel);

    await Promise.all(channels.map((c) => publishRange(c, 1, 10)));
    for (const channel of channels) await ws.waitForMessages(channel, 10, 15_000);

    await cluster.kill(victim);
    // Postgres commits them; the shard that carries onVictim is gone meanwhile.
    await Promise.all(channels.map((c) => publishRange(c, 11, 20)));
    // Keep the master down until A gave up on every SPUBLISH to it (ioredis
    // retries a while): those messages are lost to Redis, not just late.
    await waitFor(() => failedPublishes(a, onVictim) >= 10, {
      timeoutMs: 20_000,
      what: 'A to give up publishing to the dead shard',
    });
    expect(
      failedPublishes(
        a,
        channels.find((c) => c !== onVictim)!,
      ),
    ).toBe(0);
    await cluster.restart(victim);
    // Nothing newer arrives to reveal the gap and the sweep is off: only the
    // resync after the shard's subscriber came back can deliver 11..20.
    await ws.waitForMessages(onVictim, 20, 15_000);
    expect(seqs(ws.received(onVictim))).toEqual(range(1, 20));
    await Promise.all(channels.map((c) => publishRange(c, 21, 30)));

    for (const channel of channels) {
      await ws.waitForMessages(channel, 30, 20_000);
      expect(seqs(ws.received(channel))).toEqual(range(1, 30));
    }
    // The restarted master carries B's subscription again: live fan-out on that shard resumed.
    const key = `${prefix}:ch:${onVictim}`;
    expect((await redisCli(cluster.ports[victim], 'pubsub', 'shardnumsub', key)).trim().split('\n')[1]).toBe(
      '1',
    );
    await publishRange(onVictim, 31, 35);
    await ws.waitForMessages(onVictim, 35, 10_000);
    expect(seqs(ws.received(onVictim))).toEqual(range(1, 35));
  });

  it('runs jobs to completion on the cluster, with every queue key under the hash tag', async () => {
    const jobs = await Promise.all(
      range(1, 5).map(() => submit(b, { type: 'test.sleep', payload: { ms: 50, steps: 2 } })),
    );
    for (const job of jobs) {
      await expect(waitForState(b, job.id, 'completed', 20_000)).resolves.toMatchObject({
        state: 'completed',
        attempts: 1,
      });
    }
    // Every BullMQ key lives in the `{prefix}` slot, on one master.
    const owner = await ownerPort(`{${prefix}}`);
    const keys = (await redisCli(owner, 'keys', `{${prefix}}:*`)).trim().split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
  });
});
