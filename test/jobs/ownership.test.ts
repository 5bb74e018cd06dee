import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Job } from '../../src/jobs/job.js';
import { get, post } from '../support/http.js';
import { type Instance, stopAllInstances } from '../support/instance.js';
import { isolatedEnv, startApi } from '../support/jobs.js';
import { SseClient } from '../support/sse-client.js';
import type { Msg } from '../support/ws-client.js';

/**
 * The job cells of the access matrix, black-box against two instances in
 * token mode: a job belongs to the `sub` that submitted it. Another user
 * gets 404 for it (as for a job that does not exist) and 403 on its
 * `job:<id>` channel, whatever patterns their token carries; its owner and
 * admins read it, on either instance. Nobody, admins included, publishes to
 * `job:` or `sys:` (their modules own them).
 */
const SECRET = `ownership-test-secret-${randomUUID()}`;
let a: Instance;
let b: Instance;

beforeAll(async () => {
  const env = { ...(await isolatedEnv()), AUTH_JWT_SECRET: SECRET };
  [a, b] = await Promise.all([startApi(env), startApi(env)]);
});
afterAll(stopAllInstances);

async function bearer(claims: { sub: string; [claim: string]: unknown }): Promise<Record<string, string>> {
  const { sub, ...rest } = claims;
  const jwt = await new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
  return { authorization: `Bearer ${jwt}` };
}

const run = randomUUID().slice(0, 8);
let alice: Record<string, string>;
let bob: Record<string, string>;
let admin: Record<string, string>;

beforeAll(async () => {
  alice = await bearer({ sub: `alice-${run}` });
  // Bob's patterns would cover every job channel: the job rule replaces them.
  bob = await bearer({ sub: `bob-${run}`, subscribe: ['job:*', '*'], publish: ['job:*', 'sys:*'] });
  admin = await bearer({ sub: `root-${run}`, admin: true });
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
