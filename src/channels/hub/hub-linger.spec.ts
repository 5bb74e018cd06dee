import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { CH, Recorder, World, flush, range } from './testing/hub-world.js';

/**
 * Long polls leave as soon as they are answered and come straight back: the
 * hub keeps following a channel for `lingerMs` after its last subscriber, and
 * answers what it delivered a moment ago from memory.
 */

beforeAll(() => {
  Logger.overrideLogger(false);
});

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
});

afterEach(() => {
  jest.useRealTimers();
});

const options = { lingerMs: 1000, recentMaxMessages: 50, recentMaxBytes: 1 << 20 };

describe('Hub: lingering streams and the recent window', () => {
  it('a subscriber that comes back within lingerMs finds the stream as it was: no head read, no broker subscribe', async () => {
    const w = new World(options);
    w.seed(3);
    const first = await w.follow(new Recorder());
    w.hub.unsubscribe(first.subscription);
    expect(w.broker.subscribed.has(CH)).toBe(true);
    w.publish('inject'); // 4, heard while lingering
    const reads = w.store.reads.length;
    const back = new Recorder();
    expect(await w.follow(back, 4)).toMatchObject({ lastSeq: 4 });
    expect(w.store.reads.length).toBe(reads);
    w.publish('inject');
    expect(back.seqs).toEqual([5]);
  });

  it('lets go of the channel (broker unsubscribe) once lingerMs passes with nobody back', async () => {
    const w = new World(options);
    const r = await w.follow(new Recorder());
    w.hub.unsubscribe(r.subscription);
    await jest.advanceTimersByTimeAsync(999);
    expect(w.hub.channelCount).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(w.hub.channelCount).toBe(0);
    expect(w.broker.subscribed.has(CH)).toBe(false);
  });

  it('answers resumes and polls a little behind the head from memory, without a history read', async () => {
    const w = new World(options);
    await w.follow(new Recorder());
    for (let i = 0; i < 20; i++) w.publish('ingest');
    await flush();
    expect(w.hub.recentAfter(CH, 15, 100)?.map((e) => e.seq)).toEqual(range(16, 20));
    const resumed = new Recorder();
    await w.follow(resumed, 10, CH, 3);
    expect(resumed.seqs).toEqual(range(11, 20));
    expect(w.store.readsOf('history')).toEqual([]);
  });

  it('reads Postgres for what is older than the window', async () => {
    const w = new World({ ...options, recentMaxMessages: 5 });
    w.seed(2);
    await w.follow(new Recorder());
    for (let i = 0; i < 10; i++) w.publish('ingest'); // 3..12; the window keeps 8..12
    expect(w.hub.recentAfter(CH, 6, 100)).toBeUndefined();
    const resumed = new Recorder();
    await w.follow(resumed, 0);
    expect(resumed.seqs).toEqual(range(1, 12));
    expect(w.store.readsOf('history').length).toBeGreaterThan(0);
  });
});
