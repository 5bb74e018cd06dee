import fc from 'fast-check';
import { type ChannelMessage, Envelope } from '../envelope.js';
import { CH, Recorder, World, drive, flush, range, settle, useHubClock } from './testing/hub-world.js';

/** Ordering: reordered and lost broker messages, resyncs and gap fills. Driven through {@link World} (see testing/hub-world.ts). */

useHubClock();

describe('Hub: out-of-order and lost broker messages', () => {
  it('restores seq order when the broker reorders (3 before 2, 6 before 5 before 4)', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    const messages = range(1, 6).map(() => w.store.append(CH));
    for (const i of [0, 2, 1, 5, 4, 3]) w.deliver(messages[i], 'inject');
    await drive(rec.received(6));
    expect(rec.seqs).toEqual(range(1, 6));

    // Late copies and own-instance echoes change nothing.
    for (const m of messages) w.deliver(m, 'inject+ingest');
    await flush();
    expect(rec.seqs).toEqual(range(1, 6));
  });

  it('holds a message that arrives ahead and releases it when the missing one arrives during the fill read', async () => {
    const w = new World();
    w.seed(1);
    const rec = new Recorder();
    await w.follow(rec);
    const two = w.store.append(CH);
    w.store.onRead = (read) => {
      if (read.method === 'history') w.deliver(two, 'inject');
    };
    w.publish('inject');
    await flush();
    expect(rec.seqs).toEqual([2, 3]);
    expect(w.gaps).toEqual([CH]);
    expect(w.store.readsOf('history')).toHaveLength(1);
  });

  it('fills from Postgres a message the broker lost, as soon as a later one arrives', async () => {
    const w = new World();
    const a = new Recorder();
    const b = new Recorder();
    await w.follow(a);
    await w.follow(b);
    w.publish('ingest');
    w.publish('drop');
    w.publish('inject');
    w.publish('inject');
    await drive(a.received(4));
    await drive(b.received(4));
    expect(a.seqs).toEqual([1, 2, 3, 4]);
    expect(b.seqs).toEqual([1, 2, 3, 4]);
    expect(w.store.readsOf('history')[0].after).toBe(1);
  });

  it('drops malformed broker messages and messages for channels it does not follow', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    w.broker.inject(CH, 'not json');
    w.broker.inject(CH, '{"channel":"room:1","seq":"1"}');
    w.broker.inject(CH, 'null');
    const other = w.store.append('room:other');
    w.broker.inject('room:other', JSON.stringify(other));
    w.hub.ingest(Envelope.fromMessage(other));
    expect(w.hub.channelCount).toBe(1);
    w.publish('inject');
    await flush();
    expect(rec.seqs).toEqual([1]);
  });

  it('property: any broker order with any losses, then a reconnect -> every subscriber gets 1..N exactly once', async () => {
    const scenario = fc.integer({ min: 1, max: 40 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        delivered: fc.shuffledSubarray(range(1, n)),
        echoed: fc.subarray(range(1, n)),
        resumeAt: fc.integer({ min: 0, max: n }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ n, delivered, echoed, resumeAt }) => {
        const w = new World();
        const live = new Recorder();
        const resumer = new Recorder();
        const l = await w.follow(live);
        const messages = range(1, n).map(() => w.store.append(CH));
        for (const seq of delivered) w.deliver(messages[seq - 1], 'inject');
        for (const seq of echoed) w.deliver(messages[seq - 1], 'ingest');
        const r = await drive(w.follow(resumer, resumeAt));
        w.broker.resync();
        await settle(() => live.seqs.length >= n && resumer.seqs.length >= n - resumeAt);
        expect(live.seqs).toEqual(range(1, n));
        expect(resumer.seqs).toEqual(range(resumeAt + 1, n));
        w.hub.unsubscribe(l.subscription);
        w.hub.unsubscribe(r.subscription);
      }),
      { numRuns: 150 },
    );
  });
});

describe('Hub: resync (broker reconnect)', () => {
  it('catches up from Postgres after broker.resync(), with no duplicates when lost messages show up late', async () => {
    const w = new World();
    w.seed(2);
    const rec = new Recorder();
    await w.follow(rec);
    const lost = [w.publish('drop'), w.publish('drop'), w.publish('drop')];
    await flush();
    expect(rec.seqs).toEqual([]);

    w.broker.resync();
    await drive(rec.received(3));
    expect(rec.seqs).toEqual([3, 4, 5]);

    for (const m of lost) w.deliver(m, 'inject');
    w.publish('ingest+inject');
    await flush();
    expect(rec.seqs).toEqual([3, 4, 5, 6]);
  });

  it('hub.resync() catches up every followed channel with one lastSeqs read', async () => {
    const w = new World();
    const a = new Recorder();
    const b = new Recorder();
    await w.follow(a, undefined, 'room:a');
    await w.follow(b, undefined, 'room:b');
    w.publish('drop', 'room:a');
    w.publish('drop', 'room:a');
    w.publish('drop', 'room:b');
    await w.hub.resync();
    await drive(a.received(2));
    await drive(b.received(1));
    expect(a.seqs).toEqual([1, 2]);
    expect(b.seqs).toEqual([1]);
    expect(w.store.readsOf('lastSeqs').map((r) => r.channels)).toEqual([['room:a', 'room:b']]);
  });

  it('the periodic sweep fills only a stream still behind the head it saw one sweep earlier', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    w.publish('drop'); // committed, but its broker copy is still "in flight"
    await w.hub.resync({ onlyLagging: true });
    await flush();
    expect(w.store.readsOf('history')).toEqual([]); // first sighting: give the broker time
    await w.hub.resync({ onlyLagging: true });
    await drive(rec.received(1));
    expect(rec.seqs).toEqual([1]); // still behind a sweep later: lost, so filled
  });

  it('the periodic sweep forgets a lag the broker made up in time', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    const late = w.store.append(CH);
    await w.hub.resync({ onlyLagging: true });
    w.deliver(late, 'inject'); // arrives before the next sweep
    await drive(rec.received(1));
    await w.hub.resync({ onlyLagging: true });
    await flush();
    expect(w.store.readsOf('history')).toEqual([]);
    expect(rec.seqs).toEqual([1]);
  });

  it('a resync that finds nothing missed reads no history', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    w.publish('ingest');
    w.publish('inject');
    await w.hub.resync();
    await flush();
    expect(w.store.readsOf('history')).toEqual([]);
    expect(rec.seqs).toEqual([1, 2]);
  });

  // Regression (e853e3a, hub.ts fill): fill() was single-flight and stopped as
  // soon as nothing was held, so a resync asking for a fill while a fill read
  // was on the wire was a no-op: messages lost after that read's snapshot
  // stayed undelivered until the next sweep or the next message.
  it('a broker reconnect during an in-flight gap fill still catches up messages lost after the fill read', async () => {
    const w = new World();
    w.seed(3);
    const rec = new Recorder();
    await w.follow(rec);
    w.publish('drop'); // 4
    let reconnected = false;
    w.store.onRead = async (read) => {
      if (read.method !== 'history' || reconnected) return;
      reconnected = true;
      // While the fill's read is answering, 6 and 7 are lost and Redis reconnects.
      w.publish('drop');
      w.publish('drop');
      w.broker.resync();
      await flush(); // the hub's resync has read lastSeqs (7) and asked for a fill
    };
    w.publish('inject'); // 5 arrives without 4: gap fill
    await settle(() => rec.seqs.length >= 4, 2_000); // no sweeper runs here
    expect(reconnected).toBe(true);
    expect(rec.seqs).toEqual([4, 5, 6, 7]);
  });
});

describe('Hub: gap fill under steady reordering', () => {
  // Regression (e853e3a, hub.ts fill): `emptyReads` counted every pass that
  // ended with a held message, even passes that made progress, and was never
  // reset. After 21 such passes in one fill the hub "jumped to what is held",
  // skipping a seq Postgres has; arriving later, below nextSeq, it was
  // dropped, so every local subscriber missed it.
  it('never skips a message Postgres has, however many passes a fill needs', async () => {
    const w = new World();
    const rec = new Recorder();
    await w.follow(rec);
    let late: ChannelMessage | undefined;
    let rounds = 0;
    w.store.onRead = (read) => {
      if (read.method !== 'history') return;
      // The message the broker delivered late arrives now ...
      if (late) w.deliver(late, 'inject');
      late = undefined;
      // ... while the next one is again overtaken by its successor.
      if (rounds < 30) {
        rounds++;
        late = w.store.append(CH);
        w.publish('inject');
      }
    };
    late = w.store.append(CH);
    w.publish('inject'); // 2 before 1: gap fill

    await settle(() => rounds === 30 && late === undefined, 5_000);
    if (late) w.deliver(late, 'inject');
    const last = w.publish('ingest');
    await settle(() => rec.seqs.at(-1) === last.seq);
    expect(w.skips).toEqual([]);
    expect(rec.seqs).toEqual(range(1, last.seq));
  });
});
