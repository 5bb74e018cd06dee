import WebSocket from 'ws';
import {
  createClient,
  SquallError,
  type ClientEvents,
  type JobEvent,
  type SquallClient,
  type TransportName,
} from '../../client/src/index.js';
import { query } from '../support/database.js';
import { get, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';

let instance: Instance;
const clients: SquallClient[] = [];

beforeAll(async () => {
  // Every role: jobs need a worker.
  instance = await startInstance();
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stopAllInstances();
});

function client(url: string | string[], options: Parameters<typeof createClient>[1] = {}): SquallClient {
  const c = createClient(url, { WebSocket, backoff: { initialMs: 50, maxMs: 500 }, ...options });
  clients.push(c);
  return c;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function history(channel: string) {
  const res = await get(instance.url, `/v1/channels/${channel}/messages?after=0&limit=1000`);
  return res.body.messages as Array<{ seq: number; data: { n: number } }>;
}

describe.each<TransportName>(['websocket', 'sse', 'longpoll'])('publish over %s', (transport) => {
  it('resolves with the committed ack; the same idempotencyKey acks the original as a duplicate', async () => {
    const c = client(instance.url, { transport });
    const channel = uniqueChannel('sdk-pub');
    const first = await c.publish(channel, { text: 'hi' }, { idempotencyKey: 'k-1' });
    const again = await c.publish(channel, { text: 'other' }, { idempotencyKey: 'k-1' });
    const next = await c.publish(channel, { text: 'next' });
    expect(first).toMatchObject({ channel, seq: 1, duplicate: false });
    expect(again).toEqual({ ...first, duplicate: true });
    expect(next).toMatchObject({ seq: 2, duplicate: false });
    expect((await history(channel)).map((m) => m.data)).toEqual([{ text: 'hi' }, { text: 'next' }]);
  });

  it('rejects what the server refuses with a typed SquallError, without retrying it', async () => {
    const c = client(instance.url, { transport });
    const forbidden = await c.publish('job:1', {}).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(SquallError);
    expect((forbidden as SquallError).code).toBe('forbidden');
    const tooBig = await c.publish(uniqueChannel('sdk-pub'), 'x'.repeat(70_000)).catch((e: unknown) => e);
    expect((tooBig as SquallError).code).toBe('payload_too_large');

    const errors: Array<ClientEvents['error']> = [];
    c.on('error', (e) => errors.push(e));
    const sub = c.subscribe('bad channel!', () => undefined);
    const refused = await sub.ready.catch((e: unknown) => e);
    expect((refused as SquallError).code).toBe('bad_request');
    expect(errors.map((e) => [e.channel, (e.error as SquallError).code])).toEqual([
      ['bad channel!', 'bad_request'],
    ]);
    // Refused for good, and only that subscription: the connection stays up.
    expect(c.state).toBe('connected');
    expect(sub.isActive).toBe(false);
  });

  it('resuming from before the retained window: a truncated event, then what remains, then live messages', async () => {
    const c = client(instance.url, { transport });
    const channel = uniqueChannel('sdk-trunc');
    for (let n = 1; n <= 10; n++) await c.publish(channel, { n });
    // What history retention does: drop the oldest messages, keep the counter.
    await query(process.env.DATABASE_URL!, 'DELETE FROM messages WHERE channel = $1 AND seq <= 5', [channel]);

    const truncated: Array<ClientEvents['truncated']> = [];
    c.on('truncated', (e) => truncated.push(e));
    const seqs: number[] = [];
    let got11!: () => void;
    const live = new Promise<void>((resolve) => (got11 = resolve));
    const sub = c.subscribe(channel, { after: 2 }, (m) => {
      seqs.push(m.seq);
      if (m.seq === 11) got11();
    });
    const onSub: unknown[] = [];
    sub.on('truncated', (e) => onSub.push(e));
    await sub.ready;
    await c.publish(channel, { n: 11 });
    await live;
    expect(seqs).toEqual([6, 7, 8, 9, 10, 11]);
    expect(truncated).toHaveLength(1);
    expect(truncated[0]).toMatchObject({ channel, after: 2 });
    expect(onSub).toEqual(truncated);
  });
});

it('publishes interrupted by a SIGKILLed instance are retried with their keys on the next one and applied once', async () => {
  const victim = await startInstance({ ROLE: 'api,gateway' });
  const c = client([victim.url, instance.url], { transport: 'websocket' });
  const channel = uniqueChannel('sdk-retry');
  const total = 2000;
  let acked = 0;
  let firstAck!: () => void;
  const someAcked = new Promise<void>((resolve) => (firstAck = resolve));
  const publishes = range(1, total).map((n) =>
    c.publish(channel, { n }).then((ack) => {
      if (++acked === 1) firstAck();
      return ack;
    }),
  );
  await someAcked;
  await victim.stop('SIGKILL');
  const ackedAtKill = acked;
  const acks = await Promise.all(publishes);

  expect(ackedAtKill).toBeLessThan(total);
  expect(c.url).toBe(instance.url);
  // Every publish acknowledged, each with its own seq, and the channel holds each n exactly once.
  expect(new Set(acks.map((a) => a.seq)).size).toBe(total);
  const stored = await history(channel);
  const more = await get(instance.url, `/v1/channels/${channel}/messages?after=1000&limit=1000`);
  const all = [...stored, ...(more.body.messages as typeof stored)];
  expect(all.map((m) => m.seq)).toEqual(range(1, total));
  expect(all.map((m) => m.data.n).sort((a, b) => a - b)).toEqual(range(1, total));
  // Acks point at the stored message of that n.
  const byN = new Map(all.map((m) => [m.data.n, m.seq]));
  expect(acks.every((a, i) => byN.get(i + 1) === a.seq)).toBe(true);
}, 90_000);

describe('jobs', () => {
  it('submit, then follow streams active, progress and completed, ending at the final state', async () => {
    const c = client(instance.url);
    const job = await c.jobs.submit('demo.sleep', { ms: 300, steps: 3 });
    expect(job).toMatchObject({ type: 'demo.sleep', state: 'queued' });
    const events: JobEvent[] = [];
    for await (const event of c.jobs.follow(job.id)) events.push(event);
    expect(events.map((e) => e.event)).toEqual(['active', 'progress', 'progress', 'progress', 'completed']);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events.at(-1)!.job).toMatchObject({
      id: job.id,
      state: 'completed',
      progress: 100,
      result: { slept: 300 },
    });
    // Following a finished job replays its events and ends too.
    const replay: string[] = [];
    for await (const event of c.jobs.follow(job.id)) replay.push(event.event);
    expect(replay).toEqual(events.map((e) => e.event));
    expect((await c.jobs.get(job.id)).state).toBe('completed');
  });

  it('cancel ends a running job and follow ends with cancelled; cancel again resolves, cancelling a completed job is a conflict', async () => {
    const c = client(instance.url, { transport: 'sse' });
    const job = await c.jobs.submit('demo.sleep', { ms: 60_000, steps: 600 });
    const seen: string[] = [];
    for await (const event of c.jobs.follow(job.id)) {
      seen.push(event.event);
      if (event.event === 'active') expect((await c.jobs.cancel(job.id)).state).toBe('cancelled');
    }
    expect(seen[0]).toBe('active');
    expect(seen.at(-1)).toBe('cancelled');
    expect(await c.jobs.cancel(job.id)).toMatchObject({ id: job.id, state: 'cancelled' });
    const done = await c.jobs.submit('demo.sleep', { ms: 10, steps: 1 });
    const final: string[] = [];
    for await (const event of c.jobs.follow(done.id)) final.push(event.event);
    expect(final.at(-1)).toBe('completed');
    const refused = await c.jobs.cancel(done.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SquallError);
    expect(refused).toMatchObject({ code: 'conflict', status: 409 });
  });

  it('follow ends with a closed error when the client is closed while waiting', async () => {
    const c = client(instance.url);
    const job = await c.jobs.submit('demo.sleep', { ms: 60_000, steps: 600 });
    const seen: string[] = [];
    const following = (async () => {
      for await (const event of c.jobs.follow(job.id)) {
        seen.push(event.event);
        if (event.event === 'active') c.close();
      }
    })();
    await expect(following).rejects.toMatchObject({ code: 'closed' });
    expect(seen).toEqual(['active']);
    await client(instance.url).jobs.cancel(job.id);
  });

  it('follow of an unknown job rejects with not_found instead of waiting forever', async () => {
    const c = client(instance.url);
    const iterator = c.jobs.follow('00000000-0000-4000-8000-000000000000');
    await expect(iterator.next()).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });

  it('submit with the same idempotencyKey returns the original job; a bad type is a bad_request', async () => {
    const c = client(instance.url);
    const key = `sdk-job-${Date.now()}`;
    const a = await c.jobs.submit('demo.sleep', { ms: 10 }, { idempotencyKey: key });
    const b = await c.jobs.submit('demo.sleep', { ms: 99 }, { idempotencyKey: key });
    expect(b.id).toBe(a.id);
    expect(b.payload).toEqual(a.payload);
    const bad = await c.jobs.submit('no.such.type').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'bad_request', status: 400 });
  });
});
