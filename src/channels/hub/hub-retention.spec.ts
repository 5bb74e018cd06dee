import { CH, Recorder, World, drive, flush, range, settle, useHubClock } from './testing/hub-world.js';

/** Retention: seqs removed from Postgres before or after this instance saw them. Driven through {@link World} (see testing/hub-world.ts). */

useHubClock();

describe('Hub: retention', () => {
  it.each([
    [0, true, 1000],
    [3, true, 2],
    [4, false, 1],
    [7, false, 3],
  ])(
    'after=%i with seqs 1..4 removed: truncated=%s, delivery starts at the first retained seq (page %i)',
    async (after, truncated, pageSize) => {
      const w = new World();
      w.seed(10);
      w.store.pruneThrough(CH, 4);
      const rec = new Recorder();
      const r = await w.follow(rec, after, CH, pageSize);
      expect(r).toMatchObject({ lastSeq: 10, truncated });
      expect(rec.seqs).toEqual(range(Math.max(after, 4) + 1, 10));
      w.publish('inject');
      expect(rec.seqs.at(-1)).toBe(11);
    },
  );

  it('a live subscribe is never truncated', async () => {
    const w = new World();
    w.seed(10);
    w.store.pruneThrough(CH, 8);
    expect(await w.follow(new Recorder())).toMatchObject({ lastSeq: 10, truncated: false });
  });

  it('says truncated when retention removed everything, then delivers new messages', async () => {
    const w = new World();
    w.seed(5);
    w.store.pruneThrough(CH, 5);
    const rec = new Recorder();
    expect(await w.follow(rec, 0)).toMatchObject({ lastSeq: 5, truncated: true });
    expect(rec.seqs).toEqual([]);
    w.publish('inject');
    expect(rec.seqs).toEqual([6]);
  });

  it('skips seqs retention removed before this instance saw them, without stalling', async () => {
    const w = new World();
    w.seed(3);
    const rec = new Recorder();
    await w.follow(rec);
    const messages = range(4, 8).map(() => w.store.append(CH));
    w.store.pruneThrough(CH, 6);
    w.deliver(messages[3], 'inject'); // 7, while 4..6 are gone for good
    await drive(rec.received(2));
    expect(rec.seqs).toEqual([7, 8]);
    expect(w.skips).toEqual([[CH, 4, 6]]);
    w.deliver(messages[4], 'inject'); // the broker's late 8
    w.publish('ingest');
    expect(rec.seqs).toEqual([7, 8, 9]);
  });

  // Regression (e853e3a, hub.ts fill): when a page started past nextSeq
  // (retention), held messages below the new nextSeq stayed in `pending`; the
  // fill re-read every 50 ms and after 21 passes "jumped" to the smallest held
  // seq, below nextSeq: nextSeq moved backwards and onSkip got from > to, which
  // HubService's skipped.inc(negative) turns into a throw (prom-client) inside
  // the fill's detached async function: an unhandled rejection.
  it('a message held from a range retention removed neither rewinds the hub nor yields a bad skip', async () => {
    const w = new World();
    w.seed(4);
    const rec = new Recorder();
    await w.follow(rec);
    const messages = range(5, 10).map(() => w.store.append(CH)); // 5..10, lost by the broker
    w.store.pruneThrough(CH, 8);
    w.deliver(messages[2], 'inject'); // the broker's late 7, removed meanwhile
    const positions: (number | undefined)[] = [];
    await settle(() => {
      positions.push(w.hub.knownLastSeq(CH));
      return false;
    }, 2_000);
    w.publish('ingest');
    await flush();

    // 9 and 10 are retained, 11 is new; 7 may be delivered (this instance holds it) or skipped.
    expect(rec.seqs.filter((seq) => seq !== 7)).toEqual([9, 10, 11]);
    expect(rec.seqs).toEqual([...rec.seqs].sort((a, b) => a - b));
    expect(positions.at(-1)).toBe(10);
    expect(positions).toEqual([...positions].sort((a, b) => (a ?? 0) - (b ?? 0)));
    // Every seq from 5 on is either delivered or skipped, exactly once.
    const skipped = w.skips.flatMap(([channel, from, to]) => {
      expect(channel).toBe(CH);
      expect(from).toBeLessThanOrEqual(to);
      return range(from, to);
    });
    expect([...skipped, ...rec.seqs].sort((a, b) => a - b)).toEqual(range(5, 11));
  });
});
