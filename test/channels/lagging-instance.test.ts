import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { SseClient } from '../support/sse-client.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { type Msg, TestClient, range, seqs } from '../support/ws-client.js';

/**
 * Two instances; `lagging` reaches Redis through a proxy the test stalls, so
 * its hub stays behind Postgres while `fresh` publishes. Sweeps are turned
 * off (10 min): whatever the lagging instance serves promptly, it serves
 * because of the request itself, not a timer.
 */
let fresh: Instance;
let lagging: Instance;
let proxy: TcpProxy;
const closers: Array<() => void> = [];

beforeAll(async () => {
  const redis = new URL(process.env.REDIS_URL!);
  proxy = await TcpProxy.start(redis.hostname, Number(redis.port));
  [fresh, lagging] = await Promise.all([
    startInstance({ ROLE: 'api,gateway', HUB_SWEEP_INTERVAL_MS: '600000' }),
    startInstance({ ROLE: 'api,gateway', HUB_SWEEP_INTERVAL_MS: '600000', REDIS_URL: proxy.url() }),
  ]);
});
afterAll(async () => {
  closers.forEach((c) => c());
  proxy.resume();
  await stopAllInstances();
  await proxy.close();
});

type Transport = 'history' | 'poll' | 'sse' | 'ws';

/**
 * One step of a client that follows `after = lastSeq` on `instance` through
 * `transport`: what it received and the cursor it keeps. SSE and WebSocket
 * steps read `want` messages and leave (a reconnect), within 5 s: a lagging
 * hub that waits for a sweep fails here.
 */
async function step(
  instance: Instance,
  transport: Transport,
  channel: string,
  after: number,
  want: number,
): Promise<{ got: Msg[]; lastSeq: number }> {
  const path = `/v1/channels/${channel}`;
  if (transport === 'history' || transport === 'poll') {
    const url =
      transport === 'history'
        ? `${path}/messages?after=${after}&limit=2`
        : `${path}/poll?after=${after}&limit=2&timeout=5`;
    const res = await get(instance.url, url);
    expect(res.status).toBe(200);
    return { got: res.body.messages, lastSeq: res.body.lastSeq };
  }
  if (transport === 'sse') {
    const sse = await SseClient.open(`${instance.url}${path}/stream?after=${after}`);
    try {
      const got = await sse.waitForMessages(want, 5000);
      return { got, lastSeq: got[got.length - 1].seq };
    } finally {
      sse.close();
    }
  }
  const ws = await TestClient.connect(instance.wsUrl);
  try {
    await ws.subscribe(channel, after);
    const got = await ws.waitForMessages(channel, want, 5000);
    return { got, lastSeq: got[got.length - 1].seq };
  } finally {
    ws.close();
  }
}

describe('a client alternating between a fresh and a lagging instance', () => {
  it('sees every seq exactly once through history, poll, SSE and WebSocket, and is never sent backwards', async () => {
    const channel = uniqueChannel('lag');
    // The lagging instance follows the channel before its Redis stalls.
    const follower = await TestClient.connect(lagging.wsUrl);
    closers.push(() => follower.close());
    await follower.subscribe(channel);
    for (let i = 1; i <= 3; i++) {
      expect((await post(fresh.url, `/v1/channels/${channel}/messages`, { data: i })).status).toBe(201);
    }
    await follower.waitForMessages(channel, 3);

    proxy.stall();
    let published = 3;
    // Each round publishes two messages through the fresh instance, then the
    // client, which has read everything so far, takes those two from one
    // instance, alternately: so every turn on the lagging instance comes
    // with a cursor ahead of its hub and messages its hub never heard of.
    const transports: Transport[] = ['history', 'poll', 'sse', 'ws'];
    const received: number[] = [];
    let cursor = 3;
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 2; i++) {
        const res = await post(fresh.url, `/v1/channels/${channel}/messages`, { data: ++published });
        expect(res.status).toBe(201);
      }
      const instance = round % 2 ? lagging : fresh;
      const transport = transports[Math.floor(round / 2)];
      const { got, lastSeq } = await step(instance, transport, channel, cursor, 2);
      received.push(...seqs(got));
      expect(lastSeq).toBeGreaterThanOrEqual(cursor);
      cursor = lastSeq;
    }
    const total = published;
    expect(received).toEqual(range(4, total));

    // At the head, an empty answer from the lagging instance still says where the client is.
    const history = await get(lagging.url, `/v1/channels/${channel}/messages?after=${total}`);
    expect(history.body).toMatchObject({ messages: [], lastSeq: total });
    const poll = await get(lagging.url, `/v1/channels/${channel}/poll?after=${total}&timeout=1`);
    expect(poll.body).toMatchObject({ messages: [], lastSeq: total });
    const beyond = await get(lagging.url, `/v1/channels/${channel}/poll?after=${total + 50}&timeout=1`);
    expect(beyond.body).toMatchObject({ messages: [], lastSeq: total });
    const ws = await TestClient.connect(lagging.wsUrl);
    closers.push(() => ws.close());
    expect((await ws.subscribe(channel, total)).data).toMatchObject({ lastSeq: total });
    const info = await get(lagging.url, `/v1/channels/${channel}`);
    expect(info.body).toEqual({ channel, lastSeq: total });

    // The follower that was there all along got the backlog once, in order,
    // filled by the resumes above even before Redis came back.
    proxy.resume();
    expect(seqs(await follower.waitForMessages(channel, total))).toEqual(range(1, total));
    expect((await post(fresh.url, `/v1/channels/${channel}/messages`, { data: 'after' })).status).toBe(201);
    expect(seqs(await follower.waitForMessages(channel, total + 1))).toEqual(range(1, total + 1));
  });
});
