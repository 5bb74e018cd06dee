import { type RedisHandle, startRedis } from '../../dev/redis-server.js';
import { startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';

let redis: RedisHandle | undefined;
afterAll(async () => {
  await stopAllInstances();
  await redis?.stop();
});

describe('readiness', () => {
  it('goes 503 naming redis when Redis stops, and 200 again when it is back', async () => {
    redis = await startRedis({ dir: '.squall' });
    const instance = await startInstance({ REDIS_URL: redis.url, ROLE: 'api' });
    const ready = () => fetch(`${instance.url}/health/ready`);

    await redis.stop();
    const down = await waitFor(
      async () => {
        const res = await ready();
        return res.status === 503 ? res : undefined;
      },
      { what: 'readiness 503' },
    );
    const body = (await down.json()) as { error: unknown; details: Record<string, { status: string }> };
    expect(body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', message: 'not ready' });
    expect(body.details.redis.status).toBe('down');
    expect(body.details.postgres.status).toBe('up');
    expect((await fetch(`${instance.url}/health/live`)).status).toBe(200);

    redis = await startRedis({ dir: '.squall', port: redis.port });
    await waitFor(async () => (await ready()).status === 200, { what: 'readiness 200 again' });
  });
});
