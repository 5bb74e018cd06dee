import { post } from '../support/http.js';
import { type Instance, stopAllInstances } from '../support/instance.js';
import { isolatedEnv, startApi, startWorker, submit, waitForState } from '../support/jobs.js';

let api: Instance;

beforeAll(async () => {
  const env = await isolatedEnv();
  [api] = await Promise.all([startApi(env), startWorker(env)]);
});

afterAll(() => stopAllInstances());

describe('priority', () => {
  it("accepts BullMQ's maximum, 2097151, and runs the job; refuses 2097152", async () => {
    const max = await submit(api, { type: 'test.sleep', payload: { ms: 0, steps: 1 }, priority: 2097151 });
    expect(max.priority).toBe(2097151);
    await waitForState(api, max.id, 'completed');

    const over = await post(api.url, '/v1/jobs', {
      type: 'test.sleep',
      payload: { ms: 0 },
      priority: 2097152,
    });
    expect(over.status).toBe(400);
    expect(over.body.message).toBe('priority must be an integer between 0 and 2097151');
  });
});

describe('payload fields', () => {
  it('takes null in an optional field as absent: the default is stored and used', async () => {
    // `steps` has a default; `label` has none, so it is left out.
    const sleep = await submit(api, { type: 'test.sleep', payload: { ms: 100, steps: null, label: null } });
    expect(sleep.payload).toEqual({ ms: 100, steps: 10 });
    const slept = await waitForState(api, sleep.id, 'completed');
    expect(slept.result).toEqual({ slept: 100 });
  });

  it('refuses null in a required field', async () => {
    const res = await post(api.url, '/v1/jobs', { type: 'test.sleep', payload: { ms: null } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^payload\.ms: ms must be an integer/);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    'refuses the payload key %s like any unknown key',
    async (key) => {
      const res = await post(api.url, '/v1/jobs', `{"type":"test.sleep","payload":{"ms":1,"${key}":1}}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe(`payload.${key}: property ${key} should not exist`);
    },
  );
});

describe('idempotencyKey', () => {
  it('answers a repeat with the original job even when the repeat is refused, 400 without an original', async () => {
    const key = `retry-${Date.now()}`;
    const body = { type: 'test.sleep', payload: { ms: 0, steps: 1 }, idempotencyKey: key };
    const first = await submit(api, body);
    for (const repeat of [
      { ...body, payload: { ms: 'soon' } }, // refused by the handler
      { ...body, priority: -1 }, // refused by the service
      { ...body, type: 'no.such.type' },
      { ...body, when: 'now' }, // refused by the body parser
      { idempotencyKey: key }, // no type at all
      { ...body, payload: { ms: 0, label: 'a\u0000b' } }, // refused by Postgres
    ]) {
      const res = await post(api.url, '/v1/jobs', repeat);
      expect({ repeat, status: res.status }).toEqual({ repeat, status: 202 });
      expect(res.body).toMatchObject({ id: first.id, payload: first.payload, createdAt: first.createdAt });
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      expect(res.headers.get('location')).toBe(`/v1/jobs/${first.id}`);
    }
    const fresh = await post(api.url, '/v1/jobs', { ...body, idempotencyKey: `${key}-new`, priority: -1 });
    expect(fresh.status).toBe(400);
    expect(fresh.body.message).toMatch(/^priority must be an integer/);
    const spaced = await post(api.url, '/v1/jobs', { ...body, idempotencyKey: 'has space' });
    expect(spaced.status).toBe(400);
    expect(spaced.body.message).toBe(
      'idempotencyKey must be 1-128 printable ASCII characters without spaces (0x21-0x7e)',
    );
  });
});
