import { jest } from '@jest/globals';
import fc from 'fast-check';
import { type ChannelMessage } from '../envelope.js';
import type { SubscribeResult } from './hub.js';
import { MAX_BACKLOG } from './subscription.js';
import { CH, type Route, Recorder, World, drive, flush, range, useHubClock } from './testing/hub-world.js';

/** Resume: history then live, exactly once, while publishes race it. Driven through {@link World} (see testing/hub-world.ts). */

useHubClock();

describe('Hub: resume race', () => {
  it.each([
    ['a channel this instance already follows', true],
    ['a channel this instance starts following', false],
  ])(
    'on %s: publishes between subscribe and start and during every read arrive exactly once, in order',
    async (_label, alreadyFollowed) => {
      const w = new World();
      w.seed(10);
      if (alreadyFollowed) await w.follow(new Recorder());
      const routes: Route[] = ['ingest', 'inject', 'ingest+inject', 'drop', 'inject+ingest'];
      let n = 0;
      w.store.onRead = () => {
        if (n < 20) w.publish(routes[n++ % routes.length]);
      };
      const rec = new Recorder();
      const r = await w.hub.subscribe(CH, rec, 2);
      expect(r.truncated).toBe(false);
      w.publish('inject');
      w.publish('drop');
      w.publish('ingest');
      expect(rec.seqs).toEqual([]);
      await w.hub.start(r.subscription, 3);
      w.store.onRead = undefined;
      const last = w.publish('ingest'); // anything lost is filled when a later message arrives
      await drive(rec.received(last.seq - 2));
      await flush();
      expect(rec.seqs).toEqual(range(3, last.seq));
    },
  );

  it('messages committed while the channel is being opened reach a live subscriber without waiting for a later one', async () => {
    const w = new World();
    w.seed(3);
    w.store.onRead = (read) => {
      if (read.method === 'lastSeq') {
        w.publish('inject');
        w.publish('inject');
      }
    };
    const rec = new Recorder();
    const r = await w.follow(rec);
    await flush();
    expect(rec.seqs).toEqual(range(r.lastSeq + 1, 5));
  });

  type Op =
    | { kind: 'publish'; route: Route | 'defer' }
    | { kind: 'release'; pick: number }
    | { kind: 'resync'; via: 'broker' | 'hub' }
    | { kind: 'fail' };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .constantFrom<Route | 'defer'>('ingest', 'inject', 'ingest+inject', 'inject+ingest', 'drop', 'defer')
        .map((route): Op => ({ kind: 'publish', route })),
    },
    { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ kind: 'release', pick })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('broker' as const, 'hub' as const)
        .map((via): Op => ({ kind: 'resync', via })),
    },
    { weight: 1, arbitrary: fc.constant<Op>({ kind: 'fail' }) },
  );

  const subscriberArb = fc.record({
    /** `after` as a percentage of the head at subscribe time; absent = live. */
    afterPct: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    /** Ops run before it subscribes, and between subscribe and start. */
    before: fc.integer({ min: 0, max: 4 }),
    between: fc.integer({ min: 0, max: 4 }),
    pageSize: fc.integer({ min: 1, max: 4 }),
    awaitStart: fc.boolean(),
  });

  it('property: resume with after while publishes race subscribe, start and every read -> exactly after+1..N', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 12 }),
        fc.boolean(),
        fc.array(subscriberArb, { minLength: 1, maxLength: 3 }),
        // At most 20 publishes, so that a fill never needs more than 20 passes:
        // this property is about the resume path; fill passes have their own test.
        fc
          .array(opArb, { maxLength: 30 })
          .filter((ops) => ops.filter((o) => o.kind === 'publish').length <= 20),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 }),
        async (initial, warm, subscribers, ops, bursts) => {
          const w = new World();
          w.seed(initial);
          const queue = [...ops];
          const deferred: ChannelMessage[] = [];
          const apply = (op: Op) => {
            if (op.kind === 'publish') {
              const message = w.store.append(CH);
              if (op.route === 'defer') deferred.push(message);
              else w.deliver(message, op.route);
            } else if (op.kind === 'release') {
              if (deferred.length > 0) w.deliver(deferred.splice(op.pick % deferred.length, 1)[0], 'inject');
            } else if (op.kind === 'resync') {
              if (op.via === 'broker') w.broker.resync();
              else void w.hub.resync();
            } else {
              w.store.failNext('history');
            }
          };
          const run = (count: number) => {
            for (let i = 0; i < count && queue.length > 0; i++) apply(queue.shift()!);
          };
          let read = 0;
          w.store.onRead = () => run(bursts[read++ % bursts.length]);

          const watchers: { rec: Recorder; from: number; result: SubscribeResult }[] = [];
          try {
            if (warm) {
              const rec = new Recorder();
              const result = await drive(w.follow(rec));
              watchers.push({ rec, from: result.lastSeq, result });
            }
            const starts: Promise<void>[] = [];
            for (const s of subscribers) {
              run(s.before);
              const head = w.store.head(CH);
              const after = s.afterPct === undefined ? undefined : Math.round((s.afterPct / 100) * head);
              const rec = new Recorder();
              const result = await drive(w.hub.subscribe(CH, rec, after));
              expect(result.truncated).toBe(false);
              expect(result.lastSeq).toBeLessThanOrEqual(w.store.head(CH));
              watchers.push({ rec, from: after ?? result.lastSeq, result });
              run(s.between);
              expect(rec.seqs).toEqual([]);
              const started = w.hub.start(result.subscription, s.pageSize);
              if (s.awaitStart) await drive(started);
              else starts.push(started);
            }
            run(queue.length);
            await drive(Promise.all(starts));
            for (const message of deferred.splice(0).reverse()) w.deliver(message, 'inject');

            // What is still lost is caught up by resyncs, as the hub's sweeper does.
            const head = w.store.head(CH);
            const complete = () => watchers.every(({ rec, from }) => rec.seqs.length >= head - from);
            for (let i = 0; i < 100 && !complete(); i++) {
              await w.hub.resync();
              await jest.advanceTimersByTimeAsync(100);
            }
            for (const { rec, from } of watchers) expect(rec.seqs).toEqual(range(from + 1, head));
          } finally {
            w.store.onRead = undefined;
            for (const { result } of watchers) w.hub.unsubscribe(result.subscription);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Hub: slow catch-up overflow', () => {
  it(`calls overflow() once a held subscription's backlog passes MAX_BACKLOG (${MAX_BACKLOG})`, async () => {
    const w = new World();
    const live = new Recorder();
    const exact = new Recorder();
    const over = new Recorder();
    await w.follow(live);
    const e = await w.hub.subscribe(CH, exact, 0);
    await w.hub.subscribe(CH, over, 0);
    for (let i = 0; i < MAX_BACKLOG; i++) w.publish('ingest');
    expect(exact.overflows + over.overflows).toBe(0);

    await w.hub.start(e.subscription);
    expect(exact.seqs).toEqual(range(1, MAX_BACKLOG));

    w.publish('inject');
    expect(over.overflows).toBe(1);
    expect(exact.overflows).toBe(0);
    expect(live.overflows).toBe(0);
    expect(over.seqs).toEqual([]);
    expect(exact.seqs).toHaveLength(MAX_BACKLOG + 1);
    expect(live.seqs).toEqual(range(1, MAX_BACKLOG + 1));
  });

  // Regression (e853e3a, subscription.ts push): on overflow the backlog was
  // emptied but the subscription carried on; when catch-up ended, goLive()
  // delivered what was pushed after the overflow: a stream with a hole (the
  // Subscriber contract is "no gaps beyond what retention removed").
  // Transports close on overflow, which hid it.
  it('never hands an overflowed subscription a stream with a gap', async () => {
    const w = new World();
    w.seed(5);
    const rec = new Recorder();
    const r = await w.hub.subscribe(CH, rec, 0);
    let flooded = false;
    w.store.onRead = (read) => {
      if (read.method !== 'history' || flooded) return;
      flooded = true;
      for (let i = 0; i < MAX_BACKLOG + 3; i++) w.publish('ingest');
    };
    await w.hub.start(r.subscription, 2);
    expect(rec.overflows).toBe(1);
    expect(rec.seqs).toEqual(range(1, rec.seqs.length));
  });
});
