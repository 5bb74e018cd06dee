import { createHash } from 'node:crypto';
import { get, post } from '../support/http.js';
import type { Instance } from '../support/instance.js';
import { stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import {
  type JobEvent,
  JobWatcher,
  getJob,
  history,
  isolatedEnv,
  metric,
  startApi,
  startWorker,
  submit,
  waitForState,
} from './support.js';

let api: Instance;
let worker: Instance;
let watcher: JobWatcher;

beforeAll(async () => {
  const env = await isolatedEnv();
  // Separate processes: the API submits and serves events, only the worker runs jobs.
  api = await startApi(env);
  [worker, watcher] = await Promise.all([startWorker(env), JobWatcher.connect(api)]);
});

afterAll(async () => {
  watcher?.close();
  await stopAllInstances();
});

const names = (events: JobEvent[]) => events.map((e) => e.event);

describe('job lifecycle over WebSocket', () => {
  it('demo.sleep: active, a progress event per step, then completed with {slept}', async () => {
    const job = await submit(api, { type: 'demo.sleep', payload: { ms: 400, steps: 4 } });
    expect(job).toMatchObject({
      type: 'demo.sleep',
      state: 'queued',
      progress: 0,
      attempts: 0,
      result: null,
    });
    await watcher.follow(job.id);
    const done = await watcher.event(job.id, 'completed');

    expect(names(watcher.events(job.id))).toEqual([
      'active',
      'progress',
      'progress',
      'progress',
      'progress',
      'completed',
    ]);
    const progress = watcher
      .events(job.id)
      .filter((e) => e.event === 'progress')
      .map((e) => e.job.progress);
    expect(progress).toEqual([25, 50, 75, 100]);
    expect(done.job).toMatchObject({
      id: job.id,
      state: 'completed',
      progress: 100,
      result: { slept: 400 },
      attempts: 1,
    });
    const stored = await getJob(api, job.id);
    expect(stored).toMatchObject({ state: 'completed', result: { slept: 400 }, error: null });
    expect(Date.parse(stored.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(stored.startedAt!));
  });

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

  it('demo.fail: retries with backoff, then completes on the attempt after failTimes', async () => {
    const job = await submit(api, { type: 'demo.fail', payload: { failTimes: 2 } });
    expect(job.maxAttempts).toBe(3);
    await watcher.follow(job.id);
    const done = await watcher.event(job.id, 'completed');
    expect(done.job).toMatchObject({ state: 'completed', attempts: 3, result: { attempt: 3 }, error: null });
    expect(names(watcher.events(job.id))).toEqual(['active', 'active', 'active', 'completed']);
    expect(watcher.events(job.id).map((e) => e.job.attempts)).toEqual([1, 2, 3, 3]);
  });

  it('demo.fail: fails after the last attempt with the error message', async () => {
    const job = await submit(api, { type: 'demo.fail', payload: { failTimes: 5 }, attempts: 2 });
    await watcher.follow(job.id);
    const failed = await watcher.event(job.id, 'failed');
    expect(failed.job).toMatchObject({ state: 'failed', attempts: 2, maxAttempts: 2, result: null });
    expect(failed.job.error).toMatch(/attempt 2 fails on purpose/);
    expect(names(watcher.events(job.id))).toEqual(['active', 'active', 'failed']);
    expect((await getJob(api, job.id)).state).toBe('failed');
  });

  it('cancels an active job: 200 cancelled, the event, and the worker aborts the handler', async () => {
    const before = await metric(
      worker,
      /^squall_job_attempts_total\{.*type="demo.sleep".*outcome="cancelled"/,
    );
    // Many small steps: progress keeps flowing while the cancel lands.
    const job = await submit(api, { type: 'demo.sleep', payload: { ms: 60_000, steps: 1000 } });
    await watcher.follow(job.id);
    await watcher.event(job.id, 'active');

    const res = await post(api.url, `/v1/jobs/${job.id}/cancel`, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: job.id, state: 'cancelled' });
    await watcher.event(job.id, 'cancelled');
    // Only the worker knows its handler stopped; nothing announces it, so poll its metrics.
    await waitFor(
      async () =>
        (await metric(worker, /^squall_job_attempts_total\{.*type="demo.sleep".*outcome="cancelled"/)) ===
        before + 1,
      { what: 'the worker to abort the cancelled job' },
    );
    const stored = await getJob(api, job.id);
    expect(stored.state).toBe('cancelled');
    // The cancel is the job's last event, once: no progress event trails it.
    const events = names(await history(api, job.id));
    expect(events[events.length - 1]).toBe('cancelled');
    expect(events.filter((n) => n === 'cancelled')).toHaveLength(1);
    expect(events.filter((n) => n === 'completed')).toEqual([]);
  });

  it('cancels a delayed job, which then never runs', async () => {
    const delayed = await submit(api, { type: 'demo.sleep', payload: { ms: 10, steps: 1 }, delayMs: 1500 });
    const res = await post(api.url, `/v1/jobs/${delayed.id}/cancel`, {});
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('cancelled');
    // A sentinel due after the cancelled job: once it has run, the cancelled one would have too.
    const sentinel = await submit(api, { type: 'demo.sleep', payload: { ms: 10, steps: 1 }, delayMs: 1700 });
    await watcher.follow(sentinel.id);
    const done = await watcher.event(sentinel.id, 'completed');
    expect(Date.parse(done.job.startedAt!) - Date.parse(done.job.createdAt)).toBeGreaterThanOrEqual(1650);
    expect(await getJob(api, delayed.id)).toMatchObject({ state: 'cancelled', attempts: 0, startedAt: null });
    expect(names(await history(api, delayed.id))).toEqual(['cancelled']);
  });

  it('answers 409 to cancelling a finished job, naming its state', async () => {
    const job = await submit(api, { type: 'demo.sleep', payload: { ms: 0, steps: 1 } });
    await waitForState(api, job.id, 'completed');
    const res = await post(api.url, `/v1/jobs/${job.id}/cancel`, {});
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ statusCode: 409, message: `job ${job.id} is already completed` });
    const again = await post(api.url, `/v1/jobs/${job.id}/cancel`, {});
    expect(again.status).toBe(409);
  });
});

describe('submit', () => {
  it('returns the same job for a repeated idempotencyKey, with 202 both times', async () => {
    const body = { type: 'demo.sleep', payload: { ms: 0, steps: 1 }, idempotencyKey: `key-${Date.now()}` };
    const first = await post(api.url, '/v1/jobs', body);
    const second = await post(api.url, '/v1/jobs', body);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(first.headers.get('location')).toBe(`/v1/jobs/${first.body.id}`);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const parallel = await Promise.all(
      Array.from({ length: 5 }, () =>
        post(api.url, '/v1/jobs', { ...body, idempotencyKey: `${body.idempotencyKey}-p` }),
      ),
    );
    expect(new Set(parallel.map((r) => r.body.id)).size).toBe(1);
    const done = await waitForState(api, first.body.id, 'completed');
    expect(done.attempts).toBe(1);
  });

  it.each([
    [
      { type: 'nope.unknown', payload: {} },
      /type "nope.unknown" is not a registered job type \(known: .*demo.sleep/,
    ],
    [{ payload: {} }, /^type is required$/],
    [{ type: 7 }, /^type must be a string$/],
    [{ type: 'demo.sleep', payload: { ms: 600_001 } }, /^payload\.ms: /],
    [{ type: 'demo.sleep', payload: { ms: 'soon' } }, /^payload\.ms: ms must be an integer/],
    [{ type: 'demo.sleep', payload: { ms: 1, steps: 0 } }, /^payload\.steps: /],
    [{ type: 'demo.sleep', payload: { ms: 1, extra: true } }, /payload\.extra/],
    [{ type: 'demo.sleep', payload: [1] }, /^payload must be a JSON object$/],
    [{ type: 'demo.cpu', payload: { iterations: 10_000_001 } }, /^payload\.iterations: /],
    [{ type: 'demo.fail', payload: {} }, /^payload\.failTimes: failTimes must be an integer/],
    [{ type: 'demo.sleep', payload: { ms: 1 }, delayMs: -1 }, /^delayMs must be an integer/],
    [{ type: 'demo.sleep', payload: { ms: 1 }, priority: 1.5 }, /^priority must be an integer/],
    [
      { type: 'demo.sleep', payload: { ms: 1 }, attempts: 0 },
      /^attempts must be an integer between 1 and 100/,
    ],
    [{ type: 'demo.sleep', payload: { ms: 1 }, idempotencyKey: '' }, /^idempotencyKey must be/],
    [{ type: 'demo.sleep', payload: { ms: 1 }, when: 'now' }, /^when is not a job field/],
    [[1, 2], /^body must be a JSON object/],
  ])('answers 400 naming the field for %j', async (body, message) => {
    const res = await post(api.url, '/v1/jobs', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toMatch(message);
  });

  it('answers 400 for a body that is not JSON, and 413 for a payload over MAX_MESSAGE_BYTES', async () => {
    expect((await post(api.url, '/v1/jobs', '{"type":')).status).toBe(400);
    const big = await post(api.url, '/v1/jobs', {
      type: 'demo.sleep',
      payload: { ms: 1, pad: 'x'.repeat(70_000) },
    });
    expect(big.status).toBe(413);
  });
});

describe('reading jobs', () => {
  it('answers 404 for an unknown id and 400 for an id that is not a UUID', async () => {
    const unknown = await get(api.url, '/v1/jobs/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect((await get(api.url, '/v1/jobs/not-a-uuid')).status).toBe(400);
    expect((await post(api.url, '/v1/jobs/not-a-uuid/cancel', {})).status).toBe(400);
    expect((await post(api.url, '/v1/jobs/00000000-0000-4000-8000-000000000000/cancel', {})).status).toBe(
      404,
    );
  });

  it('answers 400, not 500, for list filters and payloads Postgres would refuse', async () => {
    const nul = await get(api.url, '/v1/jobs?type=%00');
    expect(nul.status).toBe(400);
    expect(nul.body.message).toMatch(/type must be printable ASCII/);
    const deep = await post(
      api.url,
      '/v1/jobs',
      `{"type":"demo.sleep","payload":{"ms":1,"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
    );
    expect(deep.status).toBe(400);
    expect(deep.body.message).toMatch(/payload is nested deeper than 64 levels/);
  });

  it('lists newest first with a keyset cursor, filtered by state and type', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await submit(api, { type: 'demo.fail', payload: { failTimes: 0 }, delayMs: 3_600_000 })).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/jobs?type=demo.fail&state=queued&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await get(api.url, q);
      expect(page.status).toBe(200);
      expect(page.body.jobs.length).toBeLessThanOrEqual(2);
      for (const j of page.body.jobs) expect(j).toMatchObject({ type: 'demo.fail', state: 'queued' });
      seen.push(...page.body.jobs.map((j: { id: string }) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const first = await get(api.url, '/v1/jobs');
    expect(first.body.jobs.length).toBeGreaterThan(0);
    expect(first.body.jobs.length).toBeLessThanOrEqual(20);
    for (const [query, message] of [
      ['limit=0', /limit must be between 1 and 100/],
      ['limit=101', /limit must be between 1 and 100/],
      ['state=delayed', /state must be one of/],
      ['cursor=garbage', /cursor/],
    ] as const) {
      const res = await get(api.url, `/v1/jobs?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    }
    await Promise.all(ids.map((id) => post(api.url, `/v1/jobs/${id}/cancel`, {})));
  });

  it('lists the registered types', async () => {
    const res = await get(api.url, '/v1/jobs/types');
    expect(res.status).toBe(200);
    expect(res.body.types.map((t: { name: string }) => t.name)).toEqual([
      'demo.cpu',
      'demo.edge',
      'demo.fail',
      'demo.sleep',
    ]);
  });
});

describe('observability', () => {
  it('exposes queue depth, durations and outcomes in /metrics, and the board at /admin/queues', async () => {
    const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(workerMetrics).toMatch(
      /squall_job_duration_seconds_count\{.*type="demo.sleep",outcome="completed"\} \d+/,
    );
    expect(workerMetrics).toMatch(/squall_job_attempts_total\{type="demo.fail",outcome="retried".*\} \d+/);
    const apiMetrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(apiMetrics).toMatch(/squall_jobs_queue_depth\{queue="jobs.demo.sleep",state="waiting".*\} \d+/);
    expect(apiMetrics).toMatch(/squall_jobs_submitted_total\{type="demo.sleep".*\} \d+/);

    const board = await fetch(`${api.url}/admin/queues`);
    expect(board.status).toBe(200);
    expect(await board.text()).toMatch(/<html/i);
    const queues = await get(api.url, '/admin/queues/api/queues');
    expect(queues.body.queues.map((q: { name: string }) => q.name)).toEqual(
      expect.arrayContaining(['jobs.demo.sleep', 'jobs.demo.fail', 'jobs.demo.cpu', 'system.maintenance']),
    );
  });
});
