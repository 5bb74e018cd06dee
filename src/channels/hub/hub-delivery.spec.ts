import { jest } from '@jest/globals';
import { CH, type Route, Recorder, World, drive, flush, range, useHubClock } from './testing/hub-world.js';

/** Delivery, the subscribe answer, and broker reference counting. Driven through {@link World} (see testing/hub-world.ts). */

useHubClock();

describe('Hub: delivery and the subscribe answer', () => {
  it('delivers live messages in seq order, exactly once, to several subscribers whatever route they take', async () => {
    const w = new World();
    w.seed(3);
    const recs = [new Recorder(), new Recorder(), new Recorder()];
    for (const rec of recs) {
      expect(await w.follow(rec)).toMatchObject({ lastSeq: 3, truncated: false });
    }

    const routes: Route[] = ['ingest', 'inject', 'ingest+inject', 'inject+ingest', 'ingest', 'inject'];
    const published = routes.map((route) => w.publish(route));
    await flush();

    for (const rec of recs) {
      expect(rec.seqs).toEqual(range(4, 9));
      expect(rec.envelopes.map((e) => e.message)).toEqual(published);
    }
    expect(w.store.readsOf('history')).toEqual([]);
  });

  it('holds everything until start(), then replays history and the held live messages in order', async () => {
    const w = new World();
    w.seed(5);
    const resumer = new Recorder();
    const fresh = new Recorder();
    const r = await w.hub.subscribe(CH, resumer, 0);
    const f = await w.hub.subscribe(CH, fresh);
    expect(r).toMatchObject({ lastSeq: 5, truncated: false });
    expect(f).toMatchObject({ lastSeq: 5, truncated: false });

    w.publish('ingest');
    w.publish('inject');
    w.publish('ingest+inject');
    await flush();
    expect(resumer.seqs).toEqual([]);
    expect(fresh.seqs).toEqual([]);
    expect(r.subscription.live).toBe(false);

    await w.hub.start(r.subscription);
    expect(r.subscription.live).toBe(true);
    expect(resumer.seqs).toEqual(range(1, 8));
    expect(fresh.seqs).toEqual([]);

    await w.hub.start(f.subscription);
    expect(fresh.seqs).toEqual([6, 7, 8]);

    w.publish('inject');
    expect(resumer.seqs).toEqual(range(1, 9));
    expect(fresh.seqs).toEqual([6, 7, 8, 9]);
  });

  it('answers lastSeq 0 for a channel never written and the hub position for a followed one', async () => {
    const w = new World();
    expect(await w.follow(new Recorder())).toMatchObject({ lastSeq: 0, truncated: false });
    w.publish('ingest');
    w.publish('inject');
    expect(w.hub.knownLastSeq(CH)).toBe(2);
    expect(w.hub.knownLastSeq('room:other')).toBeUndefined();
    const late = new Recorder();
    expect(await w.follow(late)).toMatchObject({ lastSeq: 2, truncated: false });
    w.publish('ingest');
    expect(late.seqs).toEqual([3]);
  });

  it.each([1, 2, 3, 7, 1000])('resumes after a seq, reading history in pages of %i', async (pageSize) => {
    const w = new World();
    w.seed(10);
    const rec = new Recorder();
    expect(await w.follow(rec, 3, CH, pageSize)).toMatchObject({ lastSeq: 10, truncated: false });
    expect(rec.seqs).toEqual(range(4, 10));
    for (const read of w.store.readsOf('history')) expect(read.limit).toBe(pageSize);
    w.publish('ingest');
    expect(rec.seqs).toEqual(range(4, 11));
  });

  it('a resume from the live position reads no history; a cursor past anything published counts as the head', async () => {
    const w = new World();
    w.seed(4);
    const at = new Recorder();
    const beyond = new Recorder();
    await w.follow(at, 4);
    await w.follow(beyond, 6);
    expect(w.store.readsOf('history')).toEqual([]);
    w.publish('ingest');
    w.publish('inject');
    w.publish('ingest');
    expect(at.seqs).toEqual([5, 6, 7]);
    // after=6 on a channel at 4 is a bogus cursor: waiting for seq 7 would
    // silently drop 5 and 6, so it is treated as 4.
    expect(beyond.seqs).toEqual([5, 6, 7]);
  });
});

describe('Hub: cursors ahead of this instance', () => {
  it('keeps a cursor that is ahead of a lagging hub but not of Postgres: no duplicates', async () => {
    const w = new World();
    w.seed(4);
    const first = new Recorder();
    await w.follow(first); // the stream stands at 4
    w.publish('drop');
    w.publish('drop'); // 5 and 6 committed; this hub has not seen them
    const resumed = new Recorder();
    await w.follow(resumed, 6); // a client that saw 6 on another instance
    w.publish('ingest'); // 7 reveals the gap; the hub fills 5 and 6
    await drive(first.received(3));
    await drive(resumed.received(1));
    expect(first.seqs).toEqual([5, 6, 7]);
    expect(resumed.seqs).toEqual([7]);
  });
});

describe('Hub: unsubscribe and broker reference counting', () => {
  it('subscribes the broker once per channel and unsubscribes when the last local subscriber leaves', async () => {
    const w = new World();
    const subscribe = jest.spyOn(w.broker, 'subscribe');
    const unsubscribe = jest.spyOn(w.broker, 'unsubscribe');
    const recs = [new Recorder(), new Recorder(), new Recorder()];
    const results = await Promise.all(recs.map((rec) => w.hub.subscribe(CH, rec)));
    const fourth = await w.follow(new Recorder());
    for (const r of results) await w.hub.start(r.subscription);
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(w.broker.subscribed).toEqual(new Set([CH]));
    expect(w.hub.subscriberCount).toBe(4);
    expect(w.hub.channelCount).toBe(1);

    w.hub.unsubscribe(results[0].subscription);
    w.hub.unsubscribe(results[0].subscription); // twice: must not release another's reference
    w.hub.unsubscribe(results[1].subscription);
    w.hub.unsubscribe(fourth.subscription);
    expect(unsubscribe).not.toHaveBeenCalled();
    expect(w.broker.subscribed.has(CH)).toBe(true);
    w.publish('inject');
    expect(recs.map((r) => r.seqs)).toEqual([[], [], [1]]);

    w.hub.unsubscribe(results[2].subscription);
    expect(unsubscribe).toHaveBeenCalledTimes(1);
    expect(w.broker.subscribed.has(CH)).toBe(false);
    expect(w.hub.channelCount).toBe(0);
    expect(w.hub.subscriberCount).toBe(0);
    expect(w.hub.knownLastSeq(CH)).toBeUndefined();

    w.publish('ingest+inject');
    const again = new Recorder();
    expect(await w.follow(again)).toMatchObject({ lastSeq: 2 });
    expect(subscribe).toHaveBeenCalledTimes(2);
    expect(w.broker.subscribed.has(CH)).toBe(true);
    w.publish('inject');
    expect(again.seqs).toEqual([3]);
    expect(recs.map((r) => r.seqs)).toEqual([[], [], [1]]);
  });

  it('a subscriber unsubscribed mid catch-up gets nothing more; others on the channel are unaffected', async () => {
    const w = new World();
    w.seed(10);
    const leaver = new Recorder();
    const stayer = new Recorder();
    const l = await w.hub.subscribe(CH, leaver, 0);
    const s = await w.hub.subscribe(CH, stayer, 0);
    let historyReads = 0;
    w.store.onRead = (read) => {
      if (read.method === 'history' && ++historyReads === 2) {
        w.publish('ingest');
        w.hub.unsubscribe(l.subscription);
      }
    };
    await w.hub.start(l.subscription, 3);
    expect(leaver.seqs).toEqual([1, 2, 3]);
    w.store.onRead = undefined;
    await w.hub.start(s.subscription, 3);
    w.publish('inject');
    expect(leaver.seqs).toEqual([1, 2, 3]);
    expect(stayer.seqs).toEqual(range(1, 12));
    expect(w.hub.subscriberCount).toBe(1);
  });

  it('a subscriber unsubscribed while held gets none of the held messages', async () => {
    const w = new World();
    w.seed(3);
    const rec = new Recorder();
    const r = await w.hub.subscribe(CH, rec, 0);
    w.publish('ingest');
    w.hub.unsubscribe(r.subscription);
    expect(w.broker.subscribed.has(CH)).toBe(false);
    await w.hub.start(r.subscription);
    w.publish('inject');
    expect(rec.seqs).toEqual([]);
    expect(w.store.readsOf('history')).toEqual([]);
  });
});
