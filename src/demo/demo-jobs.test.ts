import { createHash } from 'node:crypto';
import { stopAllInstances, type Instance } from '../../test/support/instance.js';
import { JobWatcher, isolatedEnv, startApi, startWorker, submit } from '../../test/support/jobs.js';

/**
 * The demo job types, end to end. This test lives with the demo so that
 * deleting src/demo/ takes it along (the rest of the suite uses src/jobs/testing).
 */
let api: Instance;
let watcher: JobWatcher;

beforeAll(async () => {
  const env = await isolatedEnv();
  api = await startApi(env);
  [, watcher] = await Promise.all([startWorker(env), JobWatcher.connect(api)]);
});

afterAll(async () => {
  watcher?.close();
  await stopAllInstances();
});

describe('demo jobs', () => {
  it('demo.cpu: hashes in a worker thread, reporting progress, and completes with the digest', async () => {
    const iterations = 100_000;
    const job = await submit(api, { type: 'demo.cpu', payload: { iterations, seed: 'abc' } });
    await watcher.follow(job.id);
    const done = await watcher.event(job.id, 'completed');

    // sha256 applied `iterations` times, starting from the seed's bytes.
    let digest = Buffer.from('abc');
    for (let i = 0; i < iterations; i++) digest = createHash('sha256').update(digest).digest();
    expect(done.job.result).toEqual({ digest: digest.toString('hex'), iterations });
    const events = watcher.events(job.id);
    expect(events[0].event).toBe('active');
    expect(events.filter((e) => e.event === 'progress').length).toBeGreaterThan(0);
    expect(events.filter((e) => e.event === 'completed')).toHaveLength(1);
  });

  it('demo.sleep completes with {slept}', async () => {
    const job = await submit(api, { type: 'demo.sleep', payload: { ms: 50, steps: 2 } });
    await watcher.follow(job.id);
    expect((await watcher.event(job.id, 'completed')).job.result).toEqual({ slept: 50 });
  });
});
