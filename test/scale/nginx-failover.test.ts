import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { metric } from '../support/metrics.js';
import { type Nginx, startNginx } from '../support/nginx.js';
import { SseClient } from '../support/sse-client.js';
import { TestClient, range, seqs } from '../support/ws-client.js';

let a: Instance;
let b: Instance;
let nginx: Nginx;
const closers: Array<() => void> = [];

beforeAll(async () => {
  [a, b] = await Promise.all([
    startInstance({ ROLE: 'api,gateway' }),
    startInstance({ ROLE: 'api,gateway' }),
  ]);
  nginx = await startNginx([a.port, b.port]);
});
afterAll(async () => {
  closers.forEach((c) => c());
  await nginx?.stop();
  await stopAllInstances();
});

/** Publishes through the balancer, retrying with the same idempotencyKey until it is acknowledged. */
async function publishExactlyOnce(channel: string, i: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const res = await post(nginx.url, `/v1/channels/${channel}/messages`, {
        data: { i },
        idempotencyKey: `m${i}`,
      });
      if (res.status === 201 || res.status === 200) return res.body.seq;
    } catch {
      /* the connection died with the instance: retry */
    }
  }
  throw new Error(`publish ${i} never acknowledged`);
}

describe('behind nginx (docker/nginx.conf)', () => {
  it('streams SSE through the balancer without buffering', async () => {
    const channel = uniqueChannel('lb');
    const sse = await SseClient.open(`${nginx.url}/v1/channels/${channel}/stream`);
    closers.push(() => sse.close());
    expect(sse.status).toBe(200);
    await publishExactlyOnce(channel, 1);
    expect(seqs(await sse.waitForMessages(1))).toEqual([1]);
  });

  it('an instance SIGKILLed mid-stream: the client reconnects through nginx, resumes with after, and sees 1..N exactly once', async () => {
    const channel = uniqueChannel('lb');
    const total = 100;
    let client = await TestClient.connect(nginx.wsUrl);
    await client.subscribe(channel);
    const victim = (await metric(a, 'squall_ws_connections')) > 0 ? a : b;
    const received: number[] = [];

    for (const i of range(1, 40)) await publishExactlyOnce(channel, i);
    await client.waitForMessages(channel, 40);

    await victim.stop('SIGKILL');
    // Keep publishing while the client is cut off; nginx routes to the survivor.
    const publishing = (async () => {
      for (const i of range(41, total)) await publishExactlyOnce(channel, i);
    })();
    expect((await client.closed).code).toBe(1006);
    received.push(...seqs(client.received(channel)));
    client = await TestClient.connect(nginx.wsUrl);
    closers.push(() => client.close());
    const reply = await client.subscribe(channel, received[received.length - 1]);
    expect(reply.event).toBe('subscribed');
    await publishing;

    const rest = await client.waitForMessages(channel, total - received[received.length - 1]);
    expect([...received, ...seqs(rest)]).toEqual(range(1, total));
  });
});
