import WebSocket from 'ws';
import {
  createClient,
  type ClientEvents,
  type Message,
  type SquallClient,
  type TransportName,
} from '../../client/src/index.js';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';

/**
 * The SDK's promise, tested the hard way: the instance a subscriber is
 * connected to is SIGKILLed in the middle of a 1,000-message stream published
 * through another instance, and the application callback must still see
 * 1..1000 exactly once, in order, on every transport.
 */

const TOTAL = 1000;
const KILL_AT = 300;
let survivor: Instance;
const clients: SquallClient[] = [];

beforeAll(async () => {
  survivor = await startInstance({ ROLE: 'api,gateway' });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stopAllInstances();
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A `ws` WebSocket that remembers the URLs it was opened with (to see the token the client sent). */
function recordingWebSocket(urls: string[]) {
  return class extends WebSocket {
    constructor(url: string) {
      super(url);
      urls.push(url);
    }
  };
}

/** Resolves when `check` holds after a message; rejects at the deadline with what was seen. */
function until(check: () => boolean, what: () => string, timeoutMs = 45_000) {
  let poke!: () => void;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what()}`)), timeoutMs);
    poke = () => {
      if (check()) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  return { done, poke };
}

function record(client: SquallClient) {
  const events: Array<{ name: keyof ClientEvents; event: unknown }> = [];
  for (const name of ['connecting', 'connected', 'disconnected', 'fallback', 'truncated', 'error'] as const) {
    client.on(name, (event) => events.push({ name, event }));
  }
  return events;
}

/** SIGKILL: the connection just breaks (1006). SIGTERM: the instance closes it (1001) and drains. */
const cases: Array<[TransportName, 'SIGKILL' | 'SIGTERM', number]> = [
  ['websocket', 'SIGKILL', 1006],
  ['sse', 'SIGKILL', 0],
  ['longpoll', 'SIGKILL', 0],
  ['websocket', 'SIGTERM', 1001],
];

describe.each(cases)('transport %s, %s', (transport, signal, closeCode) => {
  it(`the instance the client is on is stopped mid-stream: the callback sees 1..${TOTAL} exactly once, in order`, async () => {
    const victim = await startInstance({ ROLE: 'api,gateway' });
    const channel = uniqueChannel('sdk');
    const wsUrls: string[] = [];
    let tokens = 0;
    const tokenAt: string[] = [];
    // The victim first; on reconnect the client moves on to the next URL (a load balancer's job in production).
    const subscriber = createClient([victim.url, survivor.url], {
      transport,
      WebSocket: recordingWebSocket(wsUrls),
      getToken: () => {
        tokenAt.push(`tok-${++tokens}`);
        return `tok-${tokens}`;
      },
      backoff: { initialMs: 100, maxMs: 1_000 },
      timeouts: { pollSeconds: 5 },
    });
    clients.push(subscriber);
    const events = record(subscriber);

    const seqs: number[] = [];
    const ns: number[] = [];
    const progress = until(
      () => seqs.length >= KILL_AT,
      () => `${KILL_AT} messages (have ${seqs.length})`,
    );
    const finished = until(
      () => seqs.length >= TOTAL + 1,
      () => `${TOTAL + 1} messages (have ${seqs.length})`,
      90_000,
    );
    const sub = subscriber.subscribe<{ n: number }>(channel, { after: 0 }, (m: Message<{ n: number }>) => {
      seqs.push(m.seq);
      ns.push(m.data.n);
      progress.poke();
      finished.poke();
    });
    await sub.ready;
    expect(subscriber.url).toBe(victim.url);
    expect(subscriber.transport).toBe(transport);

    const publisher = createClient(survivor.url, { transport: 'websocket', WebSocket });
    clients.push(publisher);
    const publish = (from: number, to: number) =>
      Promise.all(range(from, to).map((n) => publisher.publish(channel, { n }, { idempotencyKey: `n${n}` })));

    const firstHalf = publish(1, TOTAL / 2);
    await progress.done;
    const stopped = victim.stop(signal);
    const seenAtKill = seqs.length;
    // The rest goes out while the subscriber is cut off and reconnecting.
    const acks = [...(await firstHalf), ...(await publish(TOTAL / 2 + 1, TOTAL))];
    expect((await stopped).signal ?? 'exit').toBe(signal === 'SIGKILL' ? 'SIGKILL' : 'exit');
    expect(new Set(acks.map((a) => a.seq)).size).toBe(TOTAL);

    // One more after the 1,000: any duplicate still on its way would arrive before it.
    await publisher.publish(channel, { n: TOTAL + 1 });
    await finished.done;

    expect(seenAtKill).toBeGreaterThanOrEqual(KILL_AT);
    expect(seenAtKill).toBeLessThan(TOTAL);
    expect(seqs).toEqual(range(1, TOTAL + 1));
    // Each published message once, each where its ack said it was committed. (Pipelined publishes usually get
    // seq n, but one retried after a 503 under load would commit later, so the test does not rely on it.)
    expect([...ns].sort((a, b) => a - b)).toEqual(range(1, TOTAL + 1));
    acks.forEach((ack, i) => expect(ns[ack.seq - 1]).toBe(i + 1));
    expect(sub.lastSeq).toBe(TOTAL + 1);

    // It noticed the loss, came back on the survivor with the same transport, and reported nothing else.
    const names = events.map((e) => e.name);
    expect(names.filter((n) => n === 'fallback' || n === 'truncated' || n === 'error')).toEqual([]);
    const lost = events.find((e) => e.name === 'disconnected')?.event as ClientEvents['disconnected'];
    expect(lost.url).toBe(victim.url);
    if (closeCode) expect(lost.code).toBe(closeCode);
    expect(subscriber.url).toBe(survivor.url);
    expect(subscriber.transport).toBe(transport);
    // A fresh token for each connection attempt; WebSocket carries it as ?token=.
    expect(tokenAt.length).toBeGreaterThanOrEqual(2);
    if (transport === 'websocket') {
      expect(wsUrls[0]).toBe(`${victim.wsUrl}?token=tok-1`);
      expect(wsUrls[wsUrls.length - 1]).toMatch(new RegExp(`^${survivor.wsUrl}\\?token=tok-\\d+$`));
      expect(new Set(wsUrls).size).toBe(wsUrls.length);
    }
  }, 150_000);
});
