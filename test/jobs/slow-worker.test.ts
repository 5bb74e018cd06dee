import { type Instance, stopAllInstances } from '../support/instance.js';
import { FAST_WORKER, JobWatcher, getJob, isolatedEnv, startApi, startWorker, submit } from './support.js';

let api: Instance;
let watcher: JobWatcher;

beforeAll(async () => {
  const env = await isolatedEnv();
  api = await startApi(env);
  // Two workers: while one is blocked, the other's stall check sees its BullMQ lock expire.
  [, , watcher] = await Promise.all([startWorker(env), startWorker(env), JobWatcher.connect(api)]);
});

afterAll(async () => {
  watcher?.close();
  await stopAllInstances();
});

describe('a slow but alive worker', () => {
  it('keeps its job when its handler blocks the event loop past the lock duration: one attempt, one run', async () => {
    const lockMs = Number(FAST_WORKER.JOB_LOCK_DURATION_MS);
    // Long enough for BullMQ to take the job for stalled and hand it to the other worker.
    const blockMs = 2 * lockMs;
    const job = await submit(api, { type: 'demo.edge', payload: { do: 'block', ms: blockMs }, attempts: 2 });
    await watcher.follow(job.id);
    const done = await watcher.until(
      job.id,
      (e) => e.event === 'completed' || e.event === 'failed',
      'the final event',
    );
    expect(done.event).toBe('completed');
    expect(watcher.events(job.id).map((e) => e.event)).toEqual(['active', 'completed']);
    expect(await getJob(api, job.id)).toMatchObject({
      state: 'completed',
      attempts: 1,
      result: { blocked: blockMs },
    });
  });
});
