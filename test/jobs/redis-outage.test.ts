import { type RedisHandle, startRedis } from '../../dev/redis-server.js';
import { get, post } from '../support/http.js';
import { type Instance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import { getJob, isolatedEnv, startApi, startWorker, submit, waitForState } from '../support/jobs.js';
import { metric } from '../support/metrics.js';

let redis: RedisHandle | undefined;
let api: Instance;

beforeAll(async () => {
  // A private Redis this file can stop and restart (empty: no persistence).
  redis = await startRedis({ dir: '.squall' });
  const env = { ...(await isolatedEnv()), REDIS_URL: redis.url };
  const retention = { HISTORY_MAX_PER_CHANNEL: '3', HISTORY_PRUNE_EVERY_MS: '1000' };
  // Two workers: the retention scheduler must still be one per cluster.
  [api] = await Promise.all([
    startApi({ ...env, JOB_ENQUEUE_TIMEOUT_MS: '1000' }),
    startWorker(env, retention),
    startWorker(env, retention),
  ]);
});

afterAll(async () => {
  await stopAllInstances();
  await redis?.stop();
});

describe('Redis down at submit', () => {
  it('commits the job (202, queued) without hanging, and runs it once Redis is back', async () => {
    await redis!.stop();
    const started = Date.now();
    const job = await submit(api, { type: 'test.sleep', payload: { ms: 50, steps: 2 } });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(job.state).toBe('queued');
    expect(await metric(api, /^squall_jobs_enqueue_failures_total\{type="test.sleep"/)).toBe(1);
    expect((await getJob(api, job.id)).state).toBe('queued');

    redis = await startRedis({ dir: '.squall', port: redis!.port });
    const done = await waitForState(api, job.id, 'completed', 45_000);
    expect(done).toMatchObject({ attempts: 1, result: { slept: 50 } });
  });
});

describe('history retention', () => {
  it('runs as one BullMQ job scheduler per cluster (re-created after Redis lost it) and prunes channel history', async () => {
    const channel = `retention.${Date.now()}`;
    for (let i = 1; i <= 6; i++) {
      expect((await post(api.url, `/v1/channels/${channel}/messages`, { data: { i } })).status).toBe(201);
    }
    // Pruning is periodic and announces nothing: poll the history.
    const kept = await waitFor(
      async () => {
        const res = await get(api.url, `/v1/channels/${channel}/messages`);
        return res.body.messages?.length === 3 ? res.body.messages : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'history pruned to 3 messages' },
    );
    expect(kept.map((m: { seq: number }) => m.seq)).toEqual([4, 5, 6]);

    const queues = await get(api.url, '/admin/queues/api/queues');
    const maintenance = queues.body.queues.find((q: { name: string }) => q.name === 'system.maintenance');
    expect(maintenance.jobSchedulerCount).toBe(1);
  });
});
