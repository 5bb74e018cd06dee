import { get, post, uniqueChannel } from '../support/http.js';
import { metric } from '../support/metrics.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { range } from '../support/ws-client.js';

// PUBLISH_CONCURRENCY=1: every publish that arrives while one statement runs
// waits for the next, so concurrent publishes are committed in batches.
let a: Instance;
let b: Instance;
beforeAll(async () => {
  [a, b] = await Promise.all([
    startInstance({ ROLE: 'api', PUBLISH_CONCURRENCY: '1' }),
    startInstance({ ROLE: 'api', PUBLISH_CONCURRENCY: '1' }),
  ]);
});
afterAll(() => stopAllInstances());

const publish = (i: Instance, channel: string, body: unknown) =>
  post(i.url, `/v1/channels/${channel}/messages`, body);

async function batchCounts(i: Instance): Promise<{ statements: number; messages: number }> {
  return {
    statements: await metric(i, 'squall_publish_batch_size_count'),
    messages: await metric(i, 'squall_publish_batch_size_sum'),
  };
}

describe('group commit of publishes', () => {
  it('commits concurrent publishes on many channels from two instances in batches, each channel 1..n with the acknowledged message at each seq', async () => {
    const channels = range(1, 4).map(() => uniqueChannel('gc'));
    const before = await batchCounts(a);
    // Alternate channel order per request so batches on A and B lock the
    // same channels in different arrival orders (a deadlock if unsorted).
    const results = await Promise.all(
      range(1, 240).map((i) => {
        const channel = channels[(i * (i % 2 ? 1 : 3)) % channels.length];
        return publish(i % 2 ? a : b, channel, { data: { i } }).then((r) => ({ ...r, channel, i }));
      }),
    );
    expect(results.filter((r) => r.status !== 201)).toEqual([]);

    for (const channel of channels) {
      const mine = results.filter((r) => r.channel === channel);
      expect(mine.map((r) => r.body.seq).sort((x: number, y: number) => x - y)).toEqual(
        range(1, mine.length),
      );
      const history = await get(a.url, `/v1/channels/${channel}/messages?limit=1000`);
      const stored = new Map(history.body.messages.map((m: { seq: number }) => [m.seq, m]));
      for (const r of mine) expect(stored.get(r.body.seq)).toEqual(r.body);
      expect(mine.every((r) => r.body.data.i === r.i)).toBe(true);
    }

    const after = await batchCounts(a);
    const messages = after.messages - before.messages;
    const statements = after.statements - before.statements;
    expect(messages).toBe(120);
    expect(statements).toBeLessThan(messages); // some statements committed several publishes
  });

  it('settles each publish of a batch on its own: a reused idempotency key gets the original, the rest consecutive seqs', async () => {
    const channel = uniqueChannel('gc');
    const original = await publish(a, channel, { data: 'first', idempotencyKey: 'k1' });
    expect(original.status).toBe(201);

    const bodies: unknown[] = range(1, 30).map((i) => ({ data: { i } }));
    bodies[10] = { data: 'again', idempotencyKey: 'k1' };
    // Twice the same new key, likely in one batch: one creates, the other replays it.
    bodies[20] = { data: 'twin', idempotencyKey: 'k2' };
    bodies[21] = { data: 'twin', idempotencyKey: 'k2' };
    const results = await Promise.all(bodies.map((body) => publish(a, channel, body)));

    expect(results[10]).toMatchObject({ status: 200, body: original.body });
    expect([results[20].status, results[21].status].sort()).toEqual([200, 201]);
    expect(results[20].body).toEqual(results[21].body);
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(28);
    expect(created.map((r) => r.body.seq).sort((x: number, y: number) => x - y)).toEqual(range(2, 29));
    expect((await get(a.url, `/v1/channels/${channel}`)).body).toEqual({ channel, lastSeq: 29 });
  });
});
