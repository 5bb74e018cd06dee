import type { Envelope } from '../envelope.js';
import { RESYNC_HINT } from './hub.js';
import type { Subscriber } from './subscriber.js';
import { CH, Recorder, World, drive, flush, range, useHubClock } from './testing/hub-world.js';

/**
 * An instance whose hub is behind Postgres (a Redis message still in flight,
 * or lost): what clients resuming on it are told and sent. "drop" commits a
 * message that this hub does not hear of.
 */

useHubClock();

/** A hub following CH at `hubAt` while Postgres has `pgAt`. */
async function lagging(hubAt: number, pgAt: number): Promise<{ w: World; first: Recorder }> {
  const w = new World();
  w.seed(hubAt);
  const first = new Recorder();
  await w.follow(first);
  for (let i = hubAt; i < pgAt; i++) w.publish('drop');
  expect(w.hub.knownLastSeq(CH)).toBe(hubAt);
  return { w, first };
}

describe('Hub behind Postgres: the subscribe answer never sends a client backwards', () => {
  it('a cursor ahead of the hub but within Postgres is answered as lastSeq = after, not the hub position', async () => {
    const { w } = await lagging(8, 10);
    const r = await w.hub.subscribe(CH, new Recorder(), 10);
    expect(r.lastSeq).toBe(10);
    const between = await w.hub.subscribe(CH, new Recorder(), 9);
    expect(between.lastSeq).toBe(9);
  });

  it('a cursor beyond Postgres counts as Postgres head, never as the lagging hub position', async () => {
    const { w } = await lagging(8, 10);
    const r = await w.hub.subscribe(CH, new Recorder(), 1000);
    expect(r.lastSeq).toBe(10);
  });
});

describe('Hub behind Postgres: a resume ahead of it is served at once', () => {
  it('fills the stream on subscribe, without waiting for a publish or a sweep', async () => {
    const { w, first } = await lagging(8, 11);
    const resumed = new Recorder();
    await w.follow(resumed, 9);
    // No publish, no sweep: only the subscribe's own head read can reveal 10 and 11.
    await drive(resumed.received(2), 1000);
    expect(resumed.seqs).toEqual([10, 11]);
    expect(first.seqs).toEqual([9, 10, 11]);
  });
});

describe('Hub: a cursor past the head never drops a live message', () => {
  it('a message published while subscribe(after=1000) reads the head reaches the subscriber', async () => {
    const w = new World();
    w.seed(4);
    await w.follow(new Recorder()); // the stream stands at 4
    w.publish('ingest'); // 5
    const rec = new Recorder();
    // The head read answers 5; message 6 is committed and delivered live
    // while that answer is on its way.
    w.store.onRead = (read) => {
      if (read.method === 'lastSeq') {
        w.store.onRead = undefined;
        queueMicrotask(() => w.publish('ingest'));
      }
    };
    const r = await w.hub.subscribe(CH, rec, 1000);
    expect(r.lastSeq).toBe(5);
    await w.hub.start(r.subscription);
    w.publish('ingest'); // 7
    await flush();
    expect(rec.seqs).toEqual([6, 7]);
  });
});

describe('Hub: resync hints', () => {
  it('a resync hint from the broker makes a lagging hub read Postgres at once', async () => {
    const { w, first } = await lagging(3, 5);
    w.broker.inject(CH, RESYNC_HINT);
    await drive(first.received(2), 1000);
    expect(first.seqs).toEqual([4, 5]);
  });

  it('a hint for a channel this instance does not follow reads nothing', async () => {
    const w = new World();
    await w.follow(new Recorder());
    w.broker.inject('room:other', RESYNC_HINT);
    await flush();
    expect(w.store.readsOf('history')).toEqual([]);
  });
});

/** A transport whose send buffer fills and drains on the test's command. */
class PacedRecorder implements Subscriber {
  readonly seqs: number[] = [];
  buffered = 0;
  maxBuffered = 0;
  private drained: (() => void)[] = [];

  constructor(private readonly lowWater: number) {}

  deliver(envelope: Envelope): void {
    this.seqs.push(envelope.seq);
    this.buffered++;
    this.maxBuffered = Math.max(this.maxBuffered, this.buffered);
  }

  writable(): Promise<void> | undefined {
    if (this.buffered <= this.lowWater) return undefined;
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** The client read everything sent so far. */
  read(): void {
    this.buffered = 0;
    for (const resolve of this.drained.splice(0)) resolve();
  }
}

describe('Hub: catch-up follows the transport pace', () => {
  it('a replay waits for the transport to drain between messages, and live messages held meanwhile follow in order', async () => {
    const w = new World();
    w.seed(50);
    await w.follow(new Recorder());
    const client = new PacedRecorder(5);
    const r = await w.hub.subscribe(CH, client, 0);
    const started = w.hub.start(r.subscription, 20);
    await flush();
    // The replay stopped where the buffer filled, not at the end of a page.
    expect(client.seqs).toEqual(range(1, 6));
    for (let i = 0; i < 3; i++) w.publish('ingest'); // 51..53, held behind the replay
    let live = false;
    void started.then(() => (live = true));
    for (let reads = 0; !live && reads < 100; reads++) {
      client.read();
      await flush();
    }
    expect(live).toBe(true);
    expect(client.maxBuffered).toBeLessThanOrEqual(6);
    expect(client.seqs).toEqual(range(1, 53));
    w.publish('ingest');
    expect(client.seqs).toEqual(range(1, 54));
  });
});
