import pg from 'pg';
import { query } from '../support/database.js';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

/**
 * Postgres slow or cut off mid-statement, made so by the test: it holds the
 * lock on a channel's row from its own connection, so every publish to that
 * channel waits behind it for as long as the test says.
 */
const DB = () => process.env.DATABASE_URL!;
let queued: Instance;
let timed: Instance;
let follower: Instance;
const closers: Array<() => void> = [];

beforeAll(async () => {
  [queued, timed, follower] = await Promise.all([
    startInstance({ ROLE: 'api', PUBLISH_CONCURRENCY: '1', PUBLISH_QUEUE_MAX: '4' }),
    startInstance({ ROLE: 'api', DATABASE_STATEMENT_TIMEOUT_MS: '500' }),
    startInstance({ ROLE: 'api,gateway', HUB_SWEEP_INTERVAL_MS: '600000' }),
  ]);
});
afterAll(async () => {
  closers.forEach((c) => c());
  await stopAllInstances();
});

/** Takes the row lock of `channel` (which must exist) until the returned release is called. */
async function lockChannel(channel: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: DB() });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM channels WHERE name = $1 FOR UPDATE', [channel]);
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}

/** Backends of Squall instances waiting for a lock: the publishes held up behind `lockChannel`. */
const waitingPublishers = () =>
  query<{ pid: number }>(
    DB(),
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'squall' AND wait_event_type = 'Lock'`,
  );

const storedSeqs = async (channel: string) =>
  (
    await query<{ seq_text: string }>(
      DB(),
      'SELECT seq::text AS seq_text FROM messages WHERE channel = $1 ORDER BY seq',
      [channel],
    )
  ).map((r) => Number(r.seq_text));

describe('Postgres slower than the publishers', () => {
  it('past PUBLISH_QUEUE_MAX waiting publishes, answers 503 with Retry-After at once; the accepted ones all commit', async () => {
    const channel = uniqueChannel('queue');
    expect((await post(queued.url, `/v1/channels/${channel}/messages`, { data: 0 })).status).toBe(201);
    const release = await lockChannel(channel);
    let answers: Awaited<ReturnType<typeof post>>[];
    try {
      // One statement runs (blocked on the lock), four wait, the rest are refused.
      const first = post(queued.url, `/v1/channels/${channel}/messages`, { data: 1 });
      await waitFor(async () => (await waitingPublishers()).length === 1, { what: 'the first statement' });
      const rest = range(2, 12).map((i) => post(queued.url, `/v1/channels/${channel}/messages`, { data: i }));
      const early: Awaited<ReturnType<typeof post>>[] = [];
      for (const p of rest) void p.then((r) => early.push(r));
      // The refused ones answer while the lock is still held.
      await waitFor(() => early.length >= 7, { what: 'seven refusals' });
      expect(early.length).toBe(7);
      for (const r of early) {
        expect(r.status).toBe(503);
        expect(r.body).toMatchObject({
          statusCode: 503,
          message: expect.stringMatching(/too many publishes/),
        });
        expect(r.headers.get('retry-after')).toBe('1');
      }
      await release();
      answers = await Promise.all([first, ...rest]);
    } finally {
      await release().catch(() => undefined);
    }
    const acked = answers.filter((r) => r.status === 201);
    expect(acked.length).toBe(5);
    expect(answers.filter((r) => r.status !== 201).every((r) => r.status === 503)).toBe(true);
    expect(acked.map((r) => r.body.seq).sort((x, y) => x - y)).toEqual(range(2, 6));
    expect(await storedSeqs(channel)).toEqual(range(1, 6));
  });

  it('a statement Postgres ends at DATABASE_STATEMENT_TIMEOUT_MS is a 503 and never commits afterwards', async () => {
    const channel = uniqueChannel('stmt');
    expect((await post(timed.url, `/v1/channels/${channel}/messages`, { data: 0 })).status).toBe(201);
    const release = await lockChannel(channel);
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      answer = await post(timed.url, `/v1/channels/${channel}/messages`, { data: 'held' });
    } finally {
      await release();
    }
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBeTruthy();
    // The lock is gone: a statement still waiting for it would commit now.
    const next = await post(timed.url, `/v1/channels/${channel}/messages`, { data: 'next' });
    expect(next.body.seq).toBe(2);
    expect(await storedSeqs(channel)).toEqual([1, 2]);
  });

  it('a publish whose connection breaks mid-statement makes every hub read Postgres at once', async () => {
    const channel = uniqueChannel('unknown');
    const ws = await TestClient.connect(follower.wsUrl);
    closers.push(() => ws.close());
    await ws.subscribe(channel);
    expect((await post(follower.url, `/v1/channels/${channel}/messages`, { data: 1 })).status).toBe(201);
    await ws.waitForMessages(channel, 1);
    // Seq 2 commits without anyone announcing it, as a statement whose
    // publisher was answered 503 can: the follower's hub does not know it.
    await query(
      DB(),
      `WITH ch AS (UPDATE channels SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq)
       INSERT INTO messages (channel, seq, id, data) SELECT $1, last_seq, gen_random_uuid(), '"unannounced"' FROM ch`,
      [channel],
    );
    const release = await lockChannel(channel);
    try {
      const publish = post(queued.url, `/v1/channels/${channel}/messages`, { data: 3 });
      const { pid } = await waitFor(async () => {
        const rows = await waitingPublishers();
        return rows.length === 1 ? rows[0] : undefined;
      });
      await query(DB(), 'SELECT pg_terminate_backend($1)', [pid]);
      expect((await publish).status).toBe(503);
      // No sweep for ten minutes, no later publish: only the resync hint can bring seq 2.
      const got = await ws.waitForMessages(channel, 2, 5000);
      expect(seqs(got)).toEqual([1, 2]);
      expect(got[1].data).toBe('unannounced');
    } finally {
      await release();
    }
  });
});
