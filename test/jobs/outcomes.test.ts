import { type Instance, stopAllInstances } from '../support/instance.js';
import { JobWatcher, getJob, isolatedEnv, startApi, startWorker, submit } from './support.js';

let api: Instance;
let watcher: JobWatcher;

beforeAll(async () => {
  const env = await isolatedEnv();
  api = await startApi(env);
  // A small message limit on the worker: events must fit it whatever the job holds.
  [, watcher] = await Promise.all([startWorker(env, { MAX_MESSAGE_BYTES: '3000' }), JobWatcher.connect(api)]);
});

afterAll(async () => {
  watcher?.close();
  await stopAllInstances();
});

/** An object nested `levels` deep: {d:{d:{...{}}}}. */
const nest = (levels: number): unknown => (levels <= 1 ? {} : { d: nest(levels - 1) });

async function run(payload: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const job = await submit(api, { type: 'demo.edge', payload, ...extra });
  await watcher.follow(job.id);
  const final = await watcher.until(
    job.id,
    (e) => ['completed', 'failed', 'cancelled'].includes(e.event),
    'a final event',
    20_000,
  );
  return { job, final, events: watcher.events(job.id) };
}

describe('events always fit', () => {
  it('a payload nested as deep as submit allows still gets its active and completed events', async () => {
    const { final, events } = await run({ do: 'echo-depth', data: nest(63) });
    expect(events.map((e) => e.event)).toEqual(['active', 'completed']);
    expect(final.job).toMatchObject({ state: 'completed', result: { depth: 63 } });
    // Events carry a summary of the job, never its payload.
    expect(final.job).not.toHaveProperty('payload');
  });

  it('a deeply nested result is stored and announced', async () => {
    const { job, final } = await run({ do: 'deep-result', n: 64 });
    expect(final.event).toBe('completed');
    expect(JSON.stringify((await getJob(api, job.id)).result).split('{').length - 1).toBe(63);
  });

  it('an error far longer than the worker message limit still gets its failed event, clipped', async () => {
    const { job, final } = await run({ do: 'long-error', n: 4000 }, { attempts: 1 });
    expect(final.event).toBe('failed');
    expect(final.job.error!.length).toBeLessThanOrEqual(500);
    expect((await getJob(api, job.id)).error).toHaveLength(4000);
  });
});

describe('a handler outcome that cannot be stored ends in a stored, clear state', () => {
  it.each([
    ['circular', /result cannot be stored as JSON: .*circular/i],
    ['bigint', /result cannot be stored as JSON: .*BigInt/i],
    ['function', /result is a function, not a JSON value/],
    ['nul-result', /result cannot be stored: /],
  ])('%s result: failed on the first attempt, saying why', async (kind, error) => {
    const { job, final, events } = await run({ do: kind });
    expect(final.event).toBe('failed');
    expect(events.map((e) => e.event)).toEqual(['active', 'failed']);
    const stored = await getJob(api, job.id);
    expect(stored).toMatchObject({ state: 'failed', attempts: 1 });
    expect(stored.error).toMatch(error);
  });

  it('an error message with U+0000 is stored (replaced) and retried as any failure', async () => {
    const { job, final, events } = await run({ do: 'nul-error' });
    expect(final.event).toBe('failed');
    expect(events.map((e) => e.event)).toEqual(['active', 'active', 'active', 'failed']);
    expect(await getJob(api, job.id)).toMatchObject({ state: 'failed', attempts: 3, error: 'bad\uFFFDbyte' });
  });
});
