import type { Job } from '../../src/jobs/job.js';
import { post } from '../support/http.js';
import { type Instance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import {
  type JobEvent,
  JobWatcher,
  getJob,
  history,
  isolatedEnv,
  startApi,
  startWorker,
  submit,
  waitForState,
} from '../support/jobs.js';

let env: Record<string, string>;
let api: Instance;
let watcher: JobWatcher;

beforeAll(async () => {
  env = await isolatedEnv();
  api = await startApi(env);
  watcher = await JobWatcher.connect(api);
});

afterAll(async () => {
  watcher?.close();
  await stopAllInstances();
});

const names = (events: JobEvent[]) => events.map((e) => e.event);

describe('worker crashes and shutdowns', () => {
  it('a worker SIGKILLed mid-job: another worker takes the job over after the stall interval and completes it once', async () => {
    const first = await startWorker(env);
    const job = await submit(api, { type: 'test.sleep', payload: { ms: 3000, steps: 6 } });
    await watcher.follow(job.id);
    await watcher.until(job.id, (e) => e.event === 'progress', 'first progress');

    await first.stop('SIGKILL');
    expect((await getJob(api, job.id)).state).toBe('active'); // stranded until the stall is detected

    const second = await startWorker(env);
    const done = await watcher.event(job.id, 'completed', 40_000);
    expect(done.job).toMatchObject({ state: 'completed', attempts: 2, result: { slept: 3000 } });

    const events = await history(api, job.id);
    expect(names(events).filter((n) => n === 'completed')).toHaveLength(1);
    expect(names(events).filter((n) => n === 'active')).toHaveLength(2);
    expect(events.filter((e) => e.event === 'active').map((e) => e.job.attempts)).toEqual([1, 2]);
    expect(names(events).filter((n) => ['failed', 'cancelled'].includes(n))).toEqual([]);
    expect(events[events.length - 1].event).toBe('completed');
    await second.stop('SIGKILL');
  });

  it('SIGTERM: the worker takes no new job, finishes the running one, exits 0; a job too long for the budget is given back', async () => {
    const worker = await startWorker(env, { SHUTDOWN_TIMEOUT_MS: '10000', LOG_LEVEL: 'info' });
    const running = await submit(api, { type: 'test.sleep', payload: { ms: 2000, steps: 4 } });
    await watcher.follow(running.id);
    await watcher.event(running.id, 'active');

    const exited = worker.stop('SIGTERM');
    // The worker logs this once it has stopped fetching jobs.
    await waitFor(() => /draining 1 running job/.test(worker.output()), {
      what: 'the worker to start draining',
    });
    // Draining: the listening socket is closed first (docs/operations.md, drain
    // order), so a balancer's next connection is refused and goes elsewhere; a
    // connection that was already open is answered 503 by readiness.
    const refused = await fetch(`${worker.url}/health/ready`).then(
      (res) => `answered ${res.status}`,
      (err: Error & { cause?: { code?: string } }) => err.cause?.code,
    );
    expect(['ECONNREFUSED', 'answered 503']).toContain(refused);
    // Submitted while the worker drains: it must not start it.
    const later = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 } });
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(await getJob(api, running.id)).toMatchObject({ state: 'completed', attempts: 1 });
    expect(await getJob(api, later.id)).toMatchObject({ state: 'queued', attempts: 0 });

    // With a 1.5 s budget a 4 s job cannot finish: it goes back to queued, its attempt not counted.
    const short = await startWorker(env, { SHUTDOWN_TIMEOUT_MS: '1500' });
    await waitForState(api, later.id, 'completed');
    const long = await submit(api, { type: 'test.sleep', payload: { ms: 4000, steps: 4 } });
    await watcher.follow(long.id);
    await watcher.event(long.id, 'active');
    const started = Date.now();
    expect(await short.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(6000);
    expect(await getJob(api, long.id)).toMatchObject({ state: 'queued', attempts: 0 });

    // While no worker runs: a queued job is cancelled, and must never run.
    const cancelled = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 } });
    const res = await post(api.url, `/v1/jobs/${cancelled.id}/cancel`, {});
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('cancelled');
    const sentinel = await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 } });
    // And prioritized jobs, lowest number first (after the unprioritized ones, as in BullMQ).
    const byPriority: Job[] = [];
    for (const priority of [3, 1, 2]) {
      byPriority.push(await submit(api, { type: 'test.sleep', payload: { ms: 10, steps: 1 }, priority }));
    }

    // One job at a time, so the order of starts is the queue's order.
    const next = await startWorker(env, { WORKER_CONCURRENCY: '1' });
    await watcher.follow(sentinel.id);
    await watcher.event(sentinel.id, 'completed');
    const resumed = await watcher.event(long.id, 'completed');
    expect(resumed.job).toMatchObject({ attempts: 1, result: { slept: 4000 } });
    expect(await getJob(api, cancelled.id)).toMatchObject({
      state: 'cancelled',
      attempts: 0,
      startedAt: null,
    });
    expect(names(await history(api, cancelled.id))).toEqual(['cancelled']);

    const finished = await Promise.all(byPriority.map((j) => waitForState(api, j.id, 'completed')));
    const startOf = (i: number) => Date.parse(finished[i].startedAt!);
    expect(startOf(1)).toBeLessThanOrEqual(startOf(2)); // priority 1 before 2
    expect(startOf(2)).toBeLessThanOrEqual(startOf(0)); // 2 before 3
    expect(startOf(1)).toBeGreaterThanOrEqual(Date.parse((await getJob(api, sentinel.id)).startedAt!));
    expect(await next.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
