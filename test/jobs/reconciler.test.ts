import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { type RedisHandle, startRedis } from '../../dev/redis-server.js';
import { query } from '../support/database.js';
import { type Instance, stopAllInstances } from '../support/instance.js';
import { JobWatcher, history, isolatedEnv, startApi, startWorker, submit } from '../support/jobs.js';
import { metric } from '../support/metrics.js';

let redis: RedisHandle | undefined;
let redisClient: Redis;
let databaseUrl: string;
let api: Instance;
let worker: Instance;
let watcher: JobWatcher;

beforeAll(async () => {
  // A private Redis this file can wipe, as a restart without persistence would.
  redis = await startRedis({ dir: '.squall' });
  redisClient = new Redis(redis.url);
  const isolated = await isolatedEnv();
  databaseUrl = isolated.DATABASE_URL;
  const env = { ...isolated, REDIS_URL: redis.url };
  api = await startApi(env);
  // One job at a time, so a job can be left waiting behind another.
  [worker, watcher] = await Promise.all([
    startWorker(env, { WORKER_CONCURRENCY: '1' }),
    JobWatcher.connect(api),
  ]);
});

afterAll(async () => {
  watcher?.close();
  redisClient?.disconnect();
  await stopAllInstances();
  await redis?.stop();
});

const reenqueued = () => metric(worker, /^squall_jobs_reconciled_total\{action="reenqueued"/);
const actives = async (id: string) => (await history(api, id)).filter((e) => e.event === 'active').length;

describe('reconciler', () => {
  it('fails a job BullMQ refuses without holding up the recovery of a job Redis lost', async () => {
    // The API now refuses this priority, so the poison row is written the way
    // an older release (or a Redis outage at submit) would have left it.
    const poison = randomUUID();
    await query(
      databaseUrl,
      `INSERT INTO jobs (id, type, payload, max_attempts, priority, delay_ms, run_at, created_at)
       VALUES ($1, 'test.fail', '{"failTimes":0}', 3, 2097152, 0, now(), now() - interval '2 seconds')`,
      [poison],
    );
    const lost = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 }, delayMs: 1500 });
    await Promise.all([watcher.follow(poison), watcher.follow(lost.id)]);
    await redisClient.flushall();

    const done = await watcher.event(lost.id, 'completed', 20_000);
    expect(done.job).toMatchObject({ attempts: 1, result: { slept: 10 } });
    const failed = await watcher.event(poison, 'failed', 20_000);
    expect(failed.job).toMatchObject({ state: 'failed', attempts: 0 });
    expect(failed.job.error).toMatch(/BullMQ refuses the job: Priority should be between 0 and 2097151/);
  });

  it('re-enqueues jobs lost in a wipe within a few passes (delayed ones by their due time), and no healthy job', async () => {
    const before = await reenqueued();
    // Runs while Redis is wiped; its worker keeps writing progress, so it is left alone.
    const running = await submit(api, { type: 'test.sleep', payload: { ms: 3000, steps: 10 } });
    await watcher.follow(running.id);
    await watcher.event(running.id, 'active');
    const waiting = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 } });
    const delayed = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 }, delayMs: 3000 });
    await redisClient.flushall();
    const wipedAt = Date.now();
    const healthy = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 }, delayMs: 2000 });

    await Promise.all([waiting, delayed, healthy].map((j) => watcher.follow(j.id)));
    const [w, d, h] = await Promise.all(
      [waiting, delayed, healthy].map((j) => watcher.event(j.id, 'completed', 30_000)),
    );
    await watcher.event(running.id, 'completed');

    // The waiting job queues behind the running one (3 s); before, a lost job
    // was looked at only once its row had been quiet for 2 lock durations.
    expect(Date.parse(w.job.startedAt!) - wipedAt).toBeLessThan(6000);
    const late = Date.parse(d.job.startedAt!) - Date.parse(d.job.createdAt) - 3000;
    expect(late).toBeLessThan(2500);
    expect(h.job.attempts).toBe(1);
    expect(await reenqueued()).toBe(before + 2);
    for (const job of [running, waiting, delayed, healthy]) expect(await actives(job.id)).toBe(1);
  });
});
