import { rmSync } from 'node:fs';
import { type PostgresHandle, startPostgres } from '../../dev/postgres.js';
import { get, post, uniqueChannel } from '../support/http.js';
import { startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';
import { waitFor } from '../support/wait-for.js';

const dir = `.squall/test-pg-down-${process.pid}`;
let pg: PostgresHandle | undefined;
afterAll(async () => {
  await stopAllInstances();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Postgres down', () => {
  it('answers 503 with Retry-After (HTTP) and an error frame (WebSocket), never 500, and recovers', async () => {
    pg = await startPostgres({ dir });
    const instance = await startInstance({ DATABASE_URL: pg.url, ROLE: 'api,gateway' });
    const channel = uniqueChannel('pgdown');
    expect((await post(instance.url, `/v1/channels/${channel}/messages`, { data: 1 })).status).toBe(201);
    const ws = await TestClient.connect(instance.wsUrl);

    await pg.stop();
    const down = await post(instance.url, `/v1/channels/${channel}/messages`, { data: 2 });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ statusCode: 503, message: 'database unavailable' });
    expect(down.headers.get('retry-after')).toBeTruthy();
    expect((await get(instance.url, `/v1/channels/${channel}/messages`)).status).toBe(503);
    expect((await get(instance.url, `/v1/channels/${uniqueChannel('pgdown')}/poll?timeout=0`)).status).toBe(
      503,
    );
    const frame = await ws.request('publish', { channel, data: 3 });
    expect(frame.data).toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/database unavailable/),
      retryAfterMs: expect.any(Number),
    });
    const ready = await get(instance.url, '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.details.postgres.status).toBe('down');

    pg = await startPostgres({ dir, port: pg.port });
    const again = await waitFor(
      async () => {
        const res = await post(instance.url, `/v1/channels/${channel}/messages`, { data: 4 });
        return res.status === 201 ? res : undefined;
      },
      { what: 'publishes to work again' },
    );
    expect(again.body.seq).toBe(2); // the refused publishes took no seq
    ws.close();
  });

  it('a Postgres stop under concurrent publishes: only 201 or 503, and every acknowledged message is kept once, seqs without gaps', async () => {
    await pg?.stop(); // left running by the test above, if it ran
    pg = await startPostgres({ dir, port: pg?.port });
    // One statement at a time: the publishes in flight when Postgres stops are batches.
    const instance = await startInstance({ DATABASE_URL: pg.url, ROLE: 'api', PUBLISH_CONCURRENCY: '1' });
    const channel = uniqueChannel('pgdown');
    const acked = new Map<string, number>();
    const statuses = new Set<number>();
    let refusals = 0;
    let stopping: Promise<void> | undefined;
    const publisher = async (w: number) => {
      for (let i = 0; refusals < 40; i++) {
        const res = await post(instance.url, `/v1/channels/${channel}/messages`, { data: { w, i } });
        statuses.add(res.status);
        if (res.status === 201) acked.set(res.body.id, res.body.seq);
        else refusals++;
        if (acked.size >= 150 && !stopping) stopping = pg!.stop();
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, w) => publisher(w)));
    await stopping;
    expect([...statuses].sort()).toEqual([201, 503]);

    pg = await startPostgres({ dir, port: pg.port });
    await waitFor(async () => (await get(instance.url, `/v1/channels/${channel}`)).status === 200, {
      what: 'Postgres back',
    });
    const history = await get(instance.url, `/v1/channels/${channel}/messages?limit=1000`);
    const messages = history.body.messages as { id: string; seq: number }[];
    expect(messages.map((m) => m.seq)).toEqual(messages.map((_, k) => k + 1));
    const stored = new Map(messages.map((m) => [m.id, m.seq]));
    expect(stored.size).toBe(messages.length);
    for (const [id, seq] of acked) expect(stored.get(id)).toBe(seq);
  });
});
