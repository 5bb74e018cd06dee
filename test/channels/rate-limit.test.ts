import { isolatedEnv } from '../support/jobs.js';
import { clientAddress, from } from '../support/limits.js';
import { metric } from '../support/metrics.js';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';

// Publish: 2 a second per client, bursts of 4; job submits: 3 a minute.
const RATE = 2;
const BURST = 4;
const JOBS_PER_MIN = 3;

let a: Instance;
let b: Instance;
beforeAll(async () => {
  const env = {
    ...(await isolatedEnv()),
    ROLE: 'api,gateway',
    RATE_LIMIT_PUBLISH_PER_SEC: String(RATE),
    RATE_LIMIT_PUBLISH_BURST: String(BURST),
    RATE_LIMIT_JOBS_PER_MIN: String(JOBS_PER_MIN),
    // A loaded test machine can keep Redis waiting past the 500 ms default,
    // which would let each instance decide alone (test/limits/redis-down).
    RATE_LIMIT_REDIS_TIMEOUT_MS: '10000',
  };
  [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
});
afterAll(stopAllInstances);

const publish = (instance: Instance, channel: string, address: string, data: unknown = 1) =>
  post(instance.url, `/v1/channels/${channel}/messages`, { data }, from(address));

describe('publish rate limit, across instances', () => {
  it('holds for the sum over two instances, not for each', async () => {
    const address = clientAddress();
    const channel = uniqueChannel('rl');
    const sent = 6 * BURST;
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: sent }, (_, i) => publish(i % 2 ? b : a, channel, address, i)),
    );
    const elapsedSec = (Date.now() - started) / 1000;
    const statuses = answers.map((r) => r.status);
    const accepted = statuses.filter((s) => s === 201).length;
    expect(statuses.filter((s) => s !== 201 && s !== 429)).toEqual([]);
    // The whole burst, plus what the rate refilled while the requests ran, once:
    // a limit per instance would let through a burst on each (2 × BURST and more).
    expect(accepted).toBeGreaterThanOrEqual(BURST);
    expect(accepted).toBeLessThanOrEqual(BURST + Math.ceil(RATE * elapsedSec));
    // Both instances refused some: each knew what the other had let through.
    expect(answers.filter((r, i) => i % 2 === 0 && r.status === 429).length).toBeGreaterThan(0);
    expect(answers.filter((r, i) => i % 2 === 1 && r.status === 429).length).toBeGreaterThan(0);
  });

  it('answers 429 in the common shape with Retry-After in seconds', async () => {
    const address = clientAddress();
    const channel = uniqueChannel('rl');
    const answers = [];
    for (let i = 0; i < BURST + 4; i++) answers.push(await publish(i % 2 ? b : a, channel, address));
    const limited = answers.find((r) => r.status === 429);
    expect(limited?.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/^publish rate limit exceeded; retry in \d+ s$/),
    });
    const retryAfter = Number(limited?.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(1 / RATE));
    expect(await metric(a, /^squall_rate_limited_total\{[^}]*limit="publish"/)).toBeGreaterThan(0);
  });

  it('counts REST and WebSocket publishes of one client in one budget, on any instance', async () => {
    const address = clientAddress();
    const channel = uniqueChannel('rl');
    const ws = await TestClient.connect(a.wsUrl, { headers: from(address) });
    const started = Date.now();
    const acks = [];
    for (let i = 0; i < BURST; i++) acks.push(await ws.request('publish', { channel, data: i }));
    expect(acks.map((f) => f.event)).toEqual(Array(BURST).fill('ack'));
    const rest = [];
    for (let i = 0; i < 3; i++) rest.push((await publish(b, channel, address)).status);
    const elapsedSec = (Date.now() - started) / 1000;
    // The burst is spent over WebSocket on A: REST on B gets only what refilled since.
    expect(rest.filter((s) => s === 201).length).toBeLessThanOrEqual(Math.ceil(RATE * elapsedSec));
    expect(rest).toContain(429);
    ws.close();
  });

  it('answers a WebSocket publish over the rate with rate_limited and retryAfterMs, and stays open', async () => {
    const address = clientAddress();
    const channel = uniqueChannel('rl');
    const [onA, onB] = await Promise.all([
      TestClient.connect(a.wsUrl, { headers: from(address) }),
      TestClient.connect(b.wsUrl, { headers: from(address) }),
    ]);
    const replies = [];
    for (let i = 0; i < BURST + 2; i++) {
      replies.push(await (i % 2 ? onB : onA).request('publish', { channel, data: i }));
    }
    const error = replies.find((r) => r.event === 'error');
    expect(error?.data).toEqual({
      code: 'rate_limited',
      message: expect.stringMatching(/publish rate limit exceeded/),
      retryAfterMs: expect.any(Number),
    });
    // Exact, in ms: at most one token's interval away.
    expect(error!.data.retryAfterMs).toBeGreaterThan(0);
    expect(error!.data.retryAfterMs).toBeLessThanOrEqual(1000 / RATE);
    expect((await onA.request('ping', {})).event).toBe('pong');
    expect((await onB.request('ping', {})).event).toBe('pong');
    onA.close();
    onB.close();
  });

  it('keeps budgets apart per client', async () => {
    const channel = uniqueChannel('rl');
    const spent = clientAddress();
    for (let i = 0; i < BURST + 1; i++) await publish(a, channel, spent);
    expect((await publish(b, channel, spent)).status).toBe(429);
    expect((await publish(b, channel, clientAddress())).status).toBe(201);
  });
});

describe('job submit rate limit, across instances', () => {
  it('holds RATE_LIMIT_JOBS_PER_MIN for the sum over two instances, with Retry-After', async () => {
    const address = clientAddress();
    const body = { type: 'test.sleep', payload: { ms: 0, steps: 1 } };
    const answers = [];
    for (let i = 0; i < 2 * JOBS_PER_MIN; i++) {
      answers.push(await post((i % 2 ? b : a).url, '/v1/jobs', body, from(address)));
    }
    expect(answers.map((r) => r.status)).toEqual([
      ...Array(JOBS_PER_MIN).fill(202),
      ...Array(JOBS_PER_MIN).fill(429),
    ]);
    const limited = answers[JOBS_PER_MIN];
    expect(limited.body).toMatchObject({
      statusCode: 429,
      message: expect.stringMatching(/job submit rate/),
    });
    // One submit every 60 / JOBS_PER_MIN s once the burst is spent.
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60 / JOBS_PER_MIN);
    // Publishing is another budget.
    expect((await publish(a, uniqueChannel('rl'), address)).status).toBe(201);
  });
});
