import { CH, Recorder, World, drive, flush, range, useHubClock } from './testing/hub-world.js';

/** Postgres read failures: retried, nothing lost, nothing left behind. Driven through {@link World} (see testing/hub-world.ts). */

useHubClock();

describe('Hub: Postgres read failures', () => {
  it('retries a failed catch-up read and loses nothing', async () => {
    const w = new World();
    w.seed(5);
    const rec = new Recorder();
    const r = await w.hub.subscribe(CH, rec, 0);
    w.store.failNext('history', 2);
    w.publish('ingest');
    await drive(w.hub.start(r.subscription, 2));
    w.publish('inject');
    expect(rec.seqs).toEqual(range(1, 7));
    expect(w.store.readsOf('history').length).toBeGreaterThanOrEqual(5);
  });

  it('retries a failed gap-fill read and loses nothing', async () => {
    const w = new World();
    w.seed(1);
    const rec = new Recorder();
    await w.follow(rec);
    w.store.failNext('history', 3);
    w.publish('drop');
    w.publish('inject');
    await drive(rec.received(2));
    expect(rec.seqs).toEqual([2, 3]);
    expect(w.store.readsOf('history').length).toBeGreaterThanOrEqual(4);
  });

  it('a subscribe whose position read fails rejects and leaves nothing behind; the next one works', async () => {
    const w = new World();
    w.seed(2);
    w.store.failNext('lastSeq');
    await expect(w.hub.subscribe(CH, new Recorder())).rejects.toThrow('lastSeq: connection terminated');
    expect(w.hub.channelCount).toBe(0);
    expect(w.broker.subscribed.size).toBe(0);
    w.publish('ingest'); // not followed: ignored

    const rec = new Recorder();
    expect(await w.follow(rec, 0)).toMatchObject({ lastSeq: 3 });
    expect(rec.seqs).toEqual([1, 2, 3]);
    expect(w.broker.subscribed.has(CH)).toBe(true);
  });

  it('a subscribe whose retention read fails rejects and releases its reference', async () => {
    const w = new World();
    w.seed(2);
    const first = new Recorder();
    await w.follow(first);
    w.store.failNext('firstRetainedSeq');
    await expect(w.hub.subscribe(CH, new Recorder(), 0)).rejects.toThrow('firstRetainedSeq');
    expect(w.hub.subscriberCount).toBe(1);
    w.publish('inject');
    expect(first.seqs).toEqual([3]);
  });

  it('a failed resync read is harmless and the next resync catches up', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    w.publish('drop');
    w.publish('drop');
    w.store.failNext('lastSeqs');
    w.broker.resync();
    await flush();
    expect(rec.seqs).toEqual([]);
    await w.hub.resync();
    await drive(rec.received(2));
    expect(rec.seqs).toEqual([1, 2]);
  });
});
