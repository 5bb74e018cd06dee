import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';

let instance: Instance;
beforeAll(async () => {
  instance = await startInstance({ ROLE: 'api,gateway', RATE_LIMIT_PUBLISH_PER_SEC: '1' });
});
afterAll(stopAllInstances);

describe('publish rate limit', () => {
  it('answers 429 with Retry-After over the REST rate, per client address', async () => {
    const channel = uniqueChannel('rl');
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await post(instance.url, `/v1/channels/${channel}/messages`, { data: i });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.slice(0, 2)).toEqual([201, 201]); // burst of 2 × rate
    expect(limited?.body).toMatchObject({ statusCode: 429, message: expect.stringMatching(/rate limit/) });
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('answers rate_limited over WebSocket, per connection, and keeps the connection open', async () => {
    const c = await TestClient.connect(instance.wsUrl);
    const channel = uniqueChannel('rl');
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await c.request('publish', { channel, data: i }));
    expect(replies.slice(0, 2).map((r) => r.event)).toEqual(['ack', 'ack']);
    expect(replies.some((r) => r.event === 'error' && r.data.code === 'rate_limited')).toBe(true);
    expect((await c.request('ping', {})).event).toBe('pong');
    c.close();
  });
});
