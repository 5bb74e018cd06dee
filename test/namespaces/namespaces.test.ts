import { query } from '../support/database.js';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient } from '../support/ws-client.js';

/** The example REST resource, end to end on real Postgres, and the channel core applying it. */
let api: Instance;
const closers: Array<() => void> = [];

beforeAll(async () => {
  api = await startInstance({ ROLE: 'api,gateway,worker', HISTORY_PRUNE_EVERY_MS: '1000' });
});
afterAll(async () => {
  closers.forEach((c) => c());
  await stopAllInstances();
});

let counter = 0;
const uniqueName = () => `ns${process.pid}x${Date.now().toString(36)}x${++counter}`;

async function send(method: string, path: string, body?: unknown) {
  const res = await fetch(api.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('/v1/namespaces', () => {
  it('creates, reads, lists, updates and deletes a namespace', async () => {
    const name = uniqueName();
    const created = await send('POST', '/v1/namespaces', { name, historyMaxPerChannel: 10 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name,
      clientPublish: true,
      historyMaxPerChannel: 10,
      historyTtlSeconds: null,
    });
    expect((await send('GET', `/v1/namespaces/${name}`)).body).toEqual(created.body);
    const list = await send('GET', '/v1/namespaces');
    expect(list.body.namespaces.map((n: { name: string }) => n.name)).toContain(name);

    const patched = await send('PATCH', `/v1/namespaces/${name}`, {
      clientPublish: false,
      historyTtlSeconds: 60,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      clientPublish: false,
      historyMaxPerChannel: 10,
      historyTtlSeconds: 60,
    });

    expect((await send('DELETE', `/v1/namespaces/${name}`)).status).toBe(204);
    expect((await send('GET', `/v1/namespaces/${name}`)).status).toBe(404);
    expect((await send('DELETE', `/v1/namespaces/${name}`)).status).toBe(404);
  });

  it('null: clears a nullable field, counts as absent on one that cannot be empty', async () => {
    const name = uniqueName();
    await send('POST', '/v1/namespaces', { name, historyMaxPerChannel: 5, clientPublish: null });
    expect((await send('GET', `/v1/namespaces/${name}`)).body).toMatchObject({ clientPublish: true });
    const cleared = await send('PATCH', `/v1/namespaces/${name}`, {
      historyMaxPerChannel: null,
      clientPublish: null,
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ historyMaxPerChannel: null, clientPublish: true });
  });

  it('refuses unknown fields, bad values and duplicates with a 4xx naming the field, never a 500', async () => {
    const name = uniqueName();
    const unknown = await send('POST', '/v1/namespaces', { name, colour: 'blue' });
    expect(unknown).toMatchObject({ status: 400, body: { message: 'property colour should not exist' } });
    const bad = await send('POST', '/v1/namespaces', { name, historyMaxPerChannel: -1 });
    expect(bad).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^historyMaxPerChannel/) },
    });
    const badName = await send('POST', '/v1/namespaces', { name: 'chat:room' });
    expect(badName).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^name must be/) } });
    expect((await send('POST', '/v1/namespaces', { name })).status).toBe(201);
    expect(await send('PATCH', `/v1/namespaces/${name}`, { clientPublish: 'yes' })).toMatchObject({
      status: 400,
      body: { message: 'clientPublish must be a boolean value' },
    });
    // The unique constraint itself answers, naming the column.
    expect(await send('POST', '/v1/namespaces', { name })).toMatchObject({
      status: 409,
      body: { statusCode: 409, error: 'Conflict', message: 'name already exists' },
    });
  });
});

describe('namespace settings in the channel core', () => {
  it('clientPublish: false refuses client publishes on REST and WebSocket with 403, in that namespace only', async () => {
    const name = uniqueName();
    await send('POST', '/v1/namespaces', { name, clientPublish: false });
    const channel = `${name}:room`;
    const rest = await post(api.url, `/v1/channels/${channel}/messages`, { data: 1 });
    expect(rest.status).toBe(403);
    expect(rest.body.message).toBe(`clients may not publish in namespace ${name}`);
    const ws = await TestClient.connect(api.wsUrl);
    closers.push(() => ws.close());
    const frame = await ws.request('publish', { channel, data: 1 });
    expect(frame.data).toMatchObject({ code: 'forbidden' });
    expect((await post(api.url, `/v1/channels/${uniqueChannel()}/messages`, { data: 1 })).status).toBe(201);
  });

  it('historyMaxPerChannel replaces the default retention for the namespace channels only', async () => {
    const name = uniqueName();
    await send('POST', '/v1/namespaces', { name, historyMaxPerChannel: 2 });
    const kept = `${name}:kept`;
    const other = `${name}x:other`; // a namespace that only starts the same
    for (let i = 1; i <= 5; i++) {
      expect((await post(api.url, `/v1/channels/${kept}/messages`, { data: i })).status).toBe(201);
      expect((await post(api.url, `/v1/channels/${other}/messages`, { data: i })).status).toBe(201);
    }
    const count = async (channel: string) =>
      Number(
        (
          await query<{ n: string }>(
            process.env.DATABASE_URL!,
            'SELECT count(*) AS n FROM messages WHERE channel = $1',
            [channel],
          )
        )[0].n,
      );
    await waitFor(async () => (await count(kept)) === 2, { what: 'retention to apply' });
    const page = await get(api.url, `/v1/channels/${kept}/messages?after=0`);
    expect(page.body).toMatchObject({ lastSeq: 5, truncated: true });
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
    expect(await count(other)).toBe(5);
  });

  it('keeps only the latest 100 messages of a sys: channel by default (the instances stats)', async () => {
    const db = process.env.DATABASE_URL!;
    const channel = `sys:${uniqueName()}`;
    await query(db, 'INSERT INTO channels (name, last_seq) VALUES ($1, 150)', [channel]);
    await query(
      db,
      `INSERT INTO messages (channel, seq, id, data) SELECT $1, s, gen_random_uuid(), '{}' FROM generate_series(1, 150) s`,
      [channel],
    );
    const seqs = async () =>
      (
        await query<{ seq_text: string }>(
          db,
          'SELECT seq::text AS seq_text FROM messages WHERE channel = $1 ORDER BY seq',
          [channel],
        )
      ).map((r) => Number(r.seq_text));
    await waitFor(async () => (await seqs()).length === 100, { what: 'sys retention' });
    expect((await seqs())[0]).toBe(51);
  });
});
