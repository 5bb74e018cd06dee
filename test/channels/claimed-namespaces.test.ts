import { randomUUID } from 'node:crypto';
import { post } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { submit } from '../support/jobs.js';
import { TestClient } from '../support/ws-client.js';

/**
 * `job:` and `sys:` are claimed by their modules (jobs, the stats publisher):
 * no client writes there, on any transport, not even in open mode, where
 * every client is an admin, and not even once a namespace setting says
 * clients may publish. Their owners still do: a job's events and the
 * instance's stats arrive.
 */
let api: Instance;

beforeAll(async () => {
  api = await startInstance({ ROLE: 'api,gateway', STATS_INTERVAL_MS: '200' });
});
afterAll(stopAllInstances);

const claimed = () => [`job:${randomUUID()}`, `sys:${randomUUID().slice(0, 8)}`, 'sys:stats'];

describe('claimed namespaces', () => {
  it('refuse a REST publish with 403, whatever the namespace settings say', async () => {
    for (const name of ['job', 'sys']) {
      const created = await post(api.url, '/v1/namespaces', { name, clientPublish: true });
      expect(created.status).toBe(201);
    }
    for (const channel of claimed()) {
      const res = await post(api.url, `/v1/channels/${channel}/messages`, { data: { forged: true } });
      expect([channel, res.status, res.body.message]).toEqual([
        channel,
        403,
        `channel ${channel} is written only by the service`,
      ]);
    }
  });

  it('refuse a WebSocket publish with a forbidden error; the connection stays open', async () => {
    const c = await TestClient.connect(api.wsUrl);
    try {
      for (const channel of claimed()) {
        const reply = await c.request('publish', { channel, data: { forged: true } });
        expect([channel, reply.event, reply.data.code]).toEqual([channel, 'error', 'forbidden']);
      }
      expect((await c.request('ping', {})).event).toBe('pong');
    } finally {
      c.close();
    }
  });

  it("leave their owners' messages flowing: a job's events, the instance's stats", async () => {
    // A delayed job cancelled here: its event is written with the transition and announced by jobs' publisher.
    const job = await submit(api, { type: 'test.sleep', payload: { ms: 0 }, delayMs: 3_600_000 });
    const c = await TestClient.connect(api.wsUrl);
    try {
      await c.subscribe(`job:${job.id}`, 0);
      await c.subscribe('sys:stats');
      expect((await post(api.url, `/v1/jobs/${job.id}/cancel`, {})).status).toBe(200);
      const [event] = await c.waitForMessages(`job:${job.id}`, 1);
      expect(event.data).toMatchObject({ event: 'cancelled', job: { id: job.id, state: 'cancelled' } });
      const [stats] = await c.waitForMessages('sys:stats', 1);
      expect(stats.data).toMatchObject({ instance: expect.any(String), roles: ['api', 'gateway'] });
    } finally {
      c.close();
    }
  });
});
