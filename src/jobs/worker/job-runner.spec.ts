import { jest } from '@jest/globals';
import type { Job as BullJob } from 'bullmq';
import type { JobRow } from '../job.js';
import type { JobContext } from '../job-handler.decorator.js';
import type { RegisteredHandler } from '../job-registry.js';
import type { Transitioned } from '../jobs.store.js';
import { JobRunner, type RunnerDeps, serialiseResult } from './job-runner.js';

/**
 * The runner against a scripted store: what it calls, in which order, and
 * whether the handler runs. Postgres behaviour itself (fences, events in the
 * statement) is pinned by the integration tests.
 */
const ID = '00000000-0000-4000-8000-000000000001';

function row(over: Partial<JobRow> = {}): Transitioned {
  const now = new Date();
  return {
    id: ID,
    type: 'test.job',
    state: 'active',
    progress: 0,
    payload: {},
    error: null,
    attempts: 1,
    max_attempts: 3,
    priority: 0,
    delay_ms: '0',
    idempotency_key: null,
    owner: null,
    lease: null,
    lease_expires_at: null,
    run_at: now,
    created_at: now,
    started_at: now,
    finished_at: null,
    updated_at: now,
    created_us: '0',
    ...over,
  };
}

function setup(run: (payload: unknown, ctx: JobContext) => Promise<unknown>) {
  const calls: string[] = [];
  let onTrack: (abort: (kind: 'cancelled' | 'lost', m: string) => void) => void = () => undefined;
  const store = {
    activate: jest.fn(
      async (_id: string, lease: string): Promise<Transitioned | null> => (
        calls.push('activate'),
        row({ lease })
      ),
    ),
    get: jest.fn(async () => null as JobRow | null),
    progress: jest.fn(async (_id: string, lease: string, p: number) => {
      calls.push(`progress ${p}`);
      return row({ lease, progress: p });
    }),
    complete: jest.fn(async () => (calls.push('complete'), row({ state: 'completed' }))),
    fail: jest.fn(async () => (calls.push('fail'), row({ state: 'failed' }))),
    retry: jest.fn(async () => (calls.push('retry'), row({ state: 'queued' }))),
    failExhausted: jest.fn(async () => null),
  };
  const handlerCalls: boolean[] = [];
  const handler = {
    name: 'test.job',
    queue: 'jobs.test.job',
    concurrency: 1,
    attempts: 3,
    backoff: { type: 'fixed', delayMs: 1 },
    options: { name: 'test.job' },
    instance: {
      run: (payload: unknown, ctx: JobContext) => {
        handlerCalls.push(ctx.signal.aborted);
        return run(payload, ctx);
      },
    },
  } as unknown as RegisteredHandler;
  const deps = {
    store,
    // The batched forms answer exactly as the one-row ones: the same script serves both.
    batched: store,
    // publish and announcePending: the runner's event API before events moved into the transitions' statements.
    events: { announce: () => undefined, publish: async () => true, announcePending: async () => undefined },
    metrics: { attempt: () => undefined, outcomes: { inc: () => undefined } },
    maxResultBytes: 1024,
    leaseMs: 10_000,
    stopping: () => false,
    track: (r: { abort: (kind: 'cancelled' | 'lost', m: string) => void }) => onTrack(r.abort),
    untrack: () => undefined,
  } as unknown as RunnerDeps;
  const runner = new JobRunner(handler, deps);
  const bullJob = { id: ID } as unknown as BullJob;
  return {
    calls,
    store,
    handlerCalls,
    runner,
    bullJob,
    cancelOnTrack: () => (onTrack = (abort) => abort('cancelled', 'the job was cancelled')),
  };
}

describe('JobRunner', () => {
  it('never starts the handler of a job cancelled while it was activating', async () => {
    const t = setup(async () => 'ran');
    t.cancelOnTrack();
    await expect(t.runner.process(t.bullJob, 'token')).rejects.toThrow('the job was cancelled');
    expect(t.handlerCalls).toEqual([]);
    expect(t.calls).toEqual(['activate']);
  });

  it('writes no progress once the attempt has settled, even from a handler that ignores its abort', async () => {
    let late!: (n: number) => Promise<void>;
    const t = setup(async (_p, ctx) => {
      late = ctx.progress;
      await ctx.progress(50);
      return 'done';
    });
    await t.runner.process(t.bullJob, 'token');
    await late(90);
    // 50 came within the attempt's first progress window: dropped at the end, like 90 after it.
    expect(t.calls).toEqual(['activate', 'complete']);
  });

  it('counts an activation retried after a lost answer once: the same lease holds the row', async () => {
    const t = setup(async (_p, ctx) => ({ attempt: ctx.attempt }));
    let lease = '';
    t.store.activate.mockImplementationOnce(async (_id: string, l: string) => {
      lease = l;
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    });
    t.store.activate.mockImplementationOnce(async () => null);
    t.store.get.mockImplementation(async () => row({ lease, attempts: 1 }));
    await expect(t.runner.process(t.bullJob, 'token')).resolves.toEqual({ state: 'completed' });
    expect(t.handlerCalls).toEqual([false]);
    expect(t.store.complete).toHaveBeenCalledWith(ID, lease, '{"attempt":1}');
  });
});

describe('serialiseResult', () => {
  it.each([
    [() => 1, /a function/],
    [{ big: 1n }, /BigInt/],
    [
      (() => {
        const o: Record<string, unknown> = {};
        o.o = o;
        return o;
      })(),
      /circular/i,
    ],
  ])('refuses what JSON cannot hold (%#)', (value, message) => {
    expect(() => serialiseResult(value, 1000)).toThrow(message);
  });

  it('stores undefined as null and refuses a result over the limit', () => {
    expect(serialiseResult(undefined, 10)).toBe('null');
    expect(() => serialiseResult('x'.repeat(20), 10)).toThrow(/limit is 10/);
  });
});
