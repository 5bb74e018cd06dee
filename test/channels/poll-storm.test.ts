import { post, uniqueChannel } from '../support/http.js';
import { isolatedEnv } from '../support/jobs.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { scrape } from '../support/metrics.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A fresh instance behind the balancer receives a storm of long polls on
 * channels it does not follow yet (clients moved over from a stopped
 * instance, all at the head). Each poll first looks at history; identical
 * looks must share one query, or a pool of a few connections is exhausted
 * and polls are answered 503 "database unavailable" (issue 11).
 */
const POLLS = 600;
const CHANNELS = 3;

let writer: Instance;
let fresh: Instance;
afterAll(async () => {
  await stopAllInstances();
});

const sample = async (app: Instance, name: string, labels: Record<string, string> = {}) => {
  const { samples } = await scrape(app);
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
};

describe('long poll storm on a fresh instance', () => {
  it(`${POLLS} polls at the head of ${CHANNELS} channels cost a handful of queries, not one each, and are all answered`, async () => {
    const env = await isolatedEnv();
    writer = await startInstance({ ...env, ROLE: 'api' });
    fresh = await startInstance({ ...env, ROLE: 'api', DATABASE_POOL_SIZE: '2' });
    const channels = Array.from({ length: CHANNELS }, () => uniqueChannel('storm'));
    for (const ch of channels)
      expect((await post(writer.url, `/v1/channels/${ch}/messages`, { data: 'before' })).status).toBe(201);

    const acquired = () => sample(fresh, 'squall_postgres_pool_wait_seconds_count', { outcome: 'acquired' });
    const before = await acquired();
    const polls = Array.from({ length: POLLS }, (_, i) =>
      fetch(`${fresh.url}/v1/channels/${channels[i % CHANNELS]}/poll?after=1&timeout=30`).then(
        async (res) => ({ status: res.status, body: (await res.json()) as unknown }),
      ),
    );
    await waitFor(async () => (await sample(fresh, 'squall_hub_subscribers')) === POLLS, {
      what: `all ${POLLS} polls waiting`,
      timeoutMs: 30_000,
    });
    // Per channel: one shared history look, the hub's head read; plus the scrapes' own.
    expect((await acquired()) - before).toBeLessThan(10 * CHANNELS);

    for (const ch of channels)
      expect((await post(writer.url, `/v1/channels/${ch}/messages`, { data: 'after' })).status).toBe(201);
    const answers = await Promise.all(polls);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    for (const a of answers)
      expect(a.body).toMatchObject({ messages: [{ seq: 2, data: 'after' }], lastSeq: 2 });
  });
});
