import { clientAddress, from, upgrade } from '../support/limits.js';
import { metric } from '../support/metrics.js';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait-for.js';

// Limits fail open to a per-instance limit: a Redis outage must not stop
// publishes Postgres would accept, yet one client is still held to its rate
// on each instance.
const RATE = 2;
const BURST = 4;

let proxy: TcpProxy;
let instance: Instance;
beforeEach(async () => {
  const redis = new URL(process.env.REDIS_URL!);
  proxy = await TcpProxy.start(redis.hostname, Number(redis.port));
  instance = await startInstance({
    ROLE: 'api,gateway',
    REDIS_URL: proxy.url(),
    RATE_LIMIT_PUBLISH_PER_SEC: String(RATE),
    RATE_LIMIT_PUBLISH_BURST: String(BURST),
    WS_MAX_CONNECTIONS_PER_KEY: '2',
    RATE_LIMIT_REDIS_TIMEOUT_MS: '500',
  });
});
afterEach(async () => {
  proxy.resume();
  await stopAllInstances();
  await proxy.close();
});

const publish = (channel: string, address: string) =>
  post(instance.url, `/v1/channels/${channel}/messages`, { data: 1 }, from(address));
const fallbacks = (limit: string) =>
  metric(instance, new RegExp(`^squall_rate_limit_fallbacks_total\\{[^}]*limit="${limit}"`));

describe('limits while Redis is down', () => {
  it('publishes within the rate still commit; the rate holds per instance; it is counted and logged', async () => {
    await proxy.close();
    await waitFor(async () => (await fetch(`${instance.url}/health/ready`)).status === 503, {
      what: 'the instance to see Redis down',
    });
    const address = clientAddress();
    const channel = uniqueChannel('rl-down');
    const statuses = [];
    for (let i = 0; i < BURST + 2; i++) statuses.push((await publish(channel, address)).status);
    expect(statuses.slice(0, BURST)).toEqual(Array(BURST).fill(201));
    expect(statuses).toContain(429);
    // Another client is untouched.
    expect((await publish(channel, clientAddress())).status).toBe(201);
    expect(await fallbacks('publish')).toBeGreaterThanOrEqual(BURST + 3);
    expect(instance.output()).toMatch(/limits hold per instance until Redis answers again/);
  });

  it('WebSocket upgrades are admitted up to the cap on this instance', async () => {
    await proxy.close();
    await waitFor(async () => (await fetch(`${instance.url}/health/ready`)).status === 503, {
      what: 'the instance to see Redis down',
    });
    const address = clientAddress();
    const first = await upgrade(instance.wsUrl, from(address));
    const second = await upgrade(instance.wsUrl, from(address));
    const third = await upgrade(instance.wsUrl, from(address));
    expect([first.status, second.status, third.status]).toEqual([101, 101, 429]);
    expect(await fallbacks('ws_connections_per_key')).toBeGreaterThanOrEqual(3);
    for (const a of [first, second]) a.socket?.close();
  });

  it('a stalled Redis delays a publish by the check timeout at most, then is left alone for a while', async () => {
    proxy.stall();
    const address = clientAddress();
    const channel = uniqueChannel('rl-stall');
    const started = Date.now();
    const first = await publish(channel, address);
    const firstMs = Date.now() - started;
    const next = Date.now();
    const second = await publish(channel, address);
    const secondMs = Date.now() - next;
    expect([first.status, second.status]).toEqual([201, 201]);
    // 500 ms timeout, plus a loaded machine's slack; the next one does not wait for Redis.
    expect(firstMs).toBeGreaterThanOrEqual(450);
    expect(firstMs).toBeLessThan(3000);
    expect(secondMs).toBeLessThan(firstMs);
    expect(await fallbacks('publish')).toBe(2);
  });
});
