import { randomUUID } from 'node:crypto';
import type { Job } from '../../src/jobs/job.js';
import {
  type AccessColumn,
  type Answer,
  bearer,
  call,
  checkMatrix,
  expecting,
  signToken,
  TOKEN_ENV,
  tokenOf,
} from '../support/auth.js';
import { get, post } from '../support/http.js';
import { type Instance, stopAllInstances } from '../support/instance.js';
import { isolatedEnv, startApi } from '../support/jobs.js';
import { SseClient } from '../support/sse-client.js';
import type { Msg } from '../support/ws-client.js';

/**
 * The job cells of the access matrix (test/support/auth.ts: its callers and
 * checkMatrix), and the details behind them, black-box against two
 * instances in token mode: a job belongs to the `sub` that submitted it. Another user
 * gets 404 for it (as for a job that does not exist) and 403 on its
 * `job:<id>` channel, whatever patterns their token carries; its owner and
 * admins read it, on either instance. Nobody, admins included, publishes to
 * `job:` or `sys:` (their modules own them).
 */
let a: Instance;
let b: Instance;

beforeAll(async () => {
  const env = { ...(await isolatedEnv()), ...TOKEN_ENV };
  [a, b] = await Promise.all([startApi(env), startApi(env)]);
});
afterAll(stopAllInstances);

const headersFor = async (claims: { sub: string; [claim: string]: unknown }) =>
  bearer(await signToken(claims));

const run = randomUUID().slice(0, 8);
let alice: Record<string, string>;
let bob: Record<string, string>;
let admin: Record<string, string>;

beforeAll(async () => {
  alice = await headersFor({ sub: `alice-${run}` });
  // Bob's patterns would cover every job channel: the job rule replaces them.
  bob = await headersFor({ sub: `bob-${run}`, subscribe: ['job:*', '*'], publish: ['job:*', 'sys:*'] });
  admin = await headersFor({ sub: `root-${run}`, admin: true });
});

/** A job that waits an hour, so it stays queued (no worker runs here) until cancelled. */
async function submitAs(api: Instance, headers: Record<string, string>, extra: object = {}) {
  return post(
    api.url,
    '/v1/jobs',
    { type: 'test.sleep', payload: { ms: 0 }, delayMs: 3_600_000, ...extra },
    headers,
  );
}

async function listIds(api: Instance, headers: Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await get(api.url, `/v1/jobs?limit=100${cursor ? `&cursor=${cursor}` : ''}`, headers);
    expect(res.status).toBe(200);
    ids.push(...(res.body.jobs as Job[]).map((j) => j.id));
    cursor = res.body.nextCursor as string | null;
  } while (cursor);
  return ids;
}

describe('job ownership (token mode, two instances)', () => {
  let job: Job;
  let bobsJob: Job;

  beforeAll(async () => {
    const submitted = await submitAs(a, alice);
    expect(submitted.status).toBe(202);
    job = submitted.body as Job;
    bobsJob = (await submitAs(b, bob)).body as Job;
  });

  it('an anonymous submit, list or read is 401', async () => {
    for (const api of [a, b]) {
      expect((await submitAs(api, {})).status).toBe(401);
      expect((await get(api.url, '/v1/jobs')).status).toBe(401);
      expect((await get(api.url, `/v1/jobs/${job.id}`)).status).toBe(401);
      expect((await post(api.url, `/v1/jobs/${job.id}/cancel`, {})).status).toBe(401);
    }
  });

  it('records the submitter as the owner', () => {
    expect(job.owner).toBe(`alice-${run}`);
    expect(bobsJob.owner).toBe(`bob-${run}`);
  });

  it('another user gets 404 for the job, read or cancel, exactly as for a job that does not exist', async () => {
    const missing = randomUUID();
    for (const api of [a, b]) {
      const read = await get(api.url, `/v1/jobs/${job.id}`, bob);
      const none = await get(api.url, `/v1/jobs/${missing}`, bob);
      expect(read.status).toBe(404);
      expect(read.body).toEqual({ ...none.body, message: none.body.message.replace(missing, job.id) });
      const cancel = await post(api.url, `/v1/jobs/${job.id}/cancel`, {}, bob);
      expect([cancel.status, cancel.body.message]).toEqual([404, `job ${job.id} not found`]);
    }
    // Still queued: Bob's cancels changed nothing.
    expect((await get(a.url, `/v1/jobs/${job.id}`, alice)).body.state).toBe('queued');
  });

  it("a user's list holds their own jobs only; an admin's holds everyone's", async () => {
    const [alicesList, bobsList, adminsList] = await Promise.all([
      listIds(b, alice),
      listIds(a, bob),
      listIds(b, admin),
    ]);
    expect(alicesList).toEqual([job.id]);
    expect(bobsList).toEqual([bobsJob.id]);
    expect(adminsList).toEqual(expect.arrayContaining([job.id, bobsJob.id]));
  });

  it("another user gets 403 on the job's channel: history, poll, SSE, channel info", async () => {
    const channel = `job:${job.id}`;
    for (const api of [a, b]) {
      for (const path of [`${channel}/messages`, `${channel}/poll?timeout=0`, channel]) {
        const res = await get(api.url, `/v1/channels/${path}`, bob);
        expect([path, res.status, res.body.message]).toEqual([
          path,
          403,
          `this token may not read channel ${channel}`,
        ]);
      }
      const sse = await SseClient.open(`${api.url}/v1/channels/${channel}/stream`, bob);
      expect(sse.status).toBe(403);
      sse.close();
    }
  });

  it('the owner and an admin read the job and its channel on either instance; the owner cancels it', async () => {
    const channel = `job:${job.id}`;
    for (const [api, who] of [
      [a, alice],
      [b, alice],
      [a, admin],
      [b, admin],
    ] as const) {
      expect((await get(api.url, `/v1/jobs/${job.id}`, who)).body).toMatchObject({
        id: job.id,
        owner: job.owner,
      });
      expect((await get(api.url, `/v1/channels/${channel}/messages`, who)).status).toBe(200);
    }
    // Alice follows it by SSE on one instance and by long poll on the other, then cancels it.
    const sse = await SseClient.open(`${b.url}/v1/channels/${channel}/stream?after=0`, alice);
    try {
      expect(sse.status).toBe(200);
      const poll = get(a.url, `/v1/channels/${channel}/poll?after=0&timeout=20`, alice);
      const cancelled = await post(b.url, `/v1/jobs/${job.id}/cancel`, {}, alice);
      expect(cancelled.status).toBe(200);
      const [streamed] = await sse.waitForMessages(1);
      const polled = await poll;
      expect(polled.status).toBe(200);
      for (const message of [streamed, (polled.body.messages as Msg[])[0]]) {
        expect(message.data).toMatchObject({ event: 'cancelled', job: { id: job.id, owner: job.owner } });
      }
    } finally {
      sse.close();
    }
    // An admin cancels anyone's job.
    expect((await post(a.url, `/v1/jobs/${bobsJob.id}/cancel`, {}, admin)).status).toBe(200);
  });

  it("keeps idempotency keys per user: the same key from two users makes two jobs, a repeat the user's own", async () => {
    const idempotencyKey = `shared-${run}`;
    const first = await submitAs(a, alice, { idempotencyKey });
    const other = await submitAs(b, bob, { idempotencyKey });
    expect([first.status, other.status]).toEqual([202, 202]);
    expect(other.body.id).not.toBe(first.body.id);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    const again = await submitAs(b, alice, { idempotencyKey });
    expect([again.body.id, again.headers.get('idempotent-replayed')]).toEqual([first.body.id, 'true']);
    // Even a refused repeat answers the user's own job, never the other's.
    const refused = await post(a.url, '/v1/jobs', { type: 'no.such.type', idempotencyKey }, bob);
    expect([refused.status, refused.body.id]).toEqual([202, other.body.id]);
  });

  it('nobody publishes to job: or sys:, admins included (their modules own them)', async () => {
    for (const who of [admin, bob]) {
      for (const channel of [`job:${job.id}`, 'sys:stats', `sys:x-${run}`]) {
        const res = await post(a.url, `/v1/channels/${channel}/messages`, { data: { forged: true } }, who);
        expect([channel, res.status]).toEqual([channel, 403]);
      }
    }
  });
});

/** A job of the matrix's chatUser (sub `alice`): queued for an hour, so only a cancel moves it. */
async function chatUsersJob(api: Instance): Promise<string> {
  const res = await submitAs(api, bearer(await tokenOf('chatUser')));
  expect(res.status).toBe(202);
  return (res.body as Job).id;
}

const withToken =
  (method: 'GET' | 'POST', path: string, body?: unknown) =>
  (i: Instance, token?: string): Promise<Answer> =>
    call(`${i.url}${path}`, {
      method,
      headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

/** SSE as EventSource opens it (the token in the URL); a 200 stream is cut once its status is known. */
const sse =
  (path: string) =>
  async (i: Instance, token?: string): Promise<Answer> => {
    const abort = new AbortController();
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    const res = await fetch(`${i.url}${path}${query}`, { signal: abort.signal });
    if (res.status === 200) {
      abort.abort();
      return { status: 200, body: '' };
    }
    return { status: res.status, body: await res.json() };
  };

describe('access matrix: the job columns (chatUser owns the job)', () => {
  it('answers every caller × job operation cell with the expected status and error', async () => {
    const id = await chatUsersJob(a);
    const channel = `job:${id}`;
    const submit = { type: 'test.sleep', payload: { ms: 0 }, delayMs: 3_600_000 };
    const columns: AccessColumn[] = [
      {
        name: 'job submit',
        call: withToken('POST', '/v1/jobs', submit),
        expect: expecting(202, 202, 202, 202),
      },
      { name: 'job read', call: withToken('GET', `/v1/jobs/${id}`), expect: expecting(200, 404, 404, 200) },
      { name: 'job list', call: withToken('GET', '/v1/jobs'), expect: expecting(200, 200, 200, 200) },
      {
        // A fresh job each time: the first successful cancel would make later ones 409.
        name: 'job cancel',
        call: async (i, token) => withToken('POST', `/v1/jobs/${await chatUsersJob(i)}/cancel`, {})(i, token),
        expect: expecting(200, 404, 404, 200),
      },
      {
        name: 'history job:<id>',
        call: withToken('GET', `/v1/channels/${channel}/messages`),
        expect: expecting(200, 403, 403, 200),
      },
      {
        name: 'long poll job:<id>',
        call: withToken('GET', `/v1/channels/${channel}/poll?timeout=0`),
        expect: expecting(200, 403, 403, 200),
      },
      {
        name: 'SSE job:<id> (?token=)',
        call: sse(`/v1/channels/${channel}/stream`),
        expect: expecting(200, 403, 403, 200),
      },
      {
        name: 'channel info job:<id>',
        call: withToken('GET', `/v1/channels/${channel}`),
        expect: expecting(200, 403, 403, 200),
      },
      {
        name: 'REST publish job:<id>',
        call: withToken('POST', `/v1/channels/${channel}/messages`, { data: { forged: true } }),
        expect: expecting(403, 403, 403, 403),
      },
      {
        name: 'REST publish sys:stats',
        call: withToken('POST', '/v1/channels/sys:stats/messages', { data: { forged: true } }),
        expect: expecting(403, 403, 403, 403),
      },
    ];
    expect(await checkMatrix([a, b], columns)).toEqual([]);
  }, 90_000);
});
