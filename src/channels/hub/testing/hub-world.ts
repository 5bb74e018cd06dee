import { jest } from '@jest/globals';
import { MemoryBroker } from '../../broker/testing/memory.broker.js';
import { type ChannelMessage, Envelope } from '../../envelope.js';
import { Hub, type HubOptions, type SubscribeResult } from '../hub.js';
import type { Subscriber } from '../subscriber.js';
import { MemoryHistory } from './memory-history.js';

// For tests only: never imported by production code.

/**
 * The hub against an in-memory Postgres ({@link MemoryHistory}) and an
 * in-process broker ({@link MemoryBroker}): `inject` is a message from another
 * instance, `resync` a Redis reconnect. A "publish" commits in the store
 * first, then tells this instance's hub (`ingest`, as ChannelsService does)
 * and/or the broker (`inject`), in either order, or nobody (lost in Redis).
 *
 * Timers are fake in the hub specs: the hub's retry and re-read delays pass
 * only when a test lets fake time pass (`drive`, `settle`), so nothing sleeps.
 */

export const CH = 'room:1';

export type Route = 'ingest' | 'inject' | 'ingest+inject' | 'inject+ingest' | 'drop';

export const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Lets every pending promise callback run (a real macrotask turn). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export const STEP_MS = 10;

/** Lets fake time pass until `promise` settles; fails instead of hanging. */
export async function drive<T>(promise: Promise<T>, budgetMs = 60_000): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await jest.advanceTimersByTimeAsync(0);
  for (let spent = 0; !settled && spent < budgetMs; spent += STEP_MS) {
    await jest.advanceTimersByTimeAsync(STEP_MS);
  }
  if (!settled) throw new Error(`still pending after ${budgetMs} ms of (fake) time`);
  return promise;
}

/** Lets fake time pass until `done()` holds or the budget is spent; the caller then asserts. */
export async function settle(done: () => boolean, budgetMs = 5_000): Promise<void> {
  await jest.advanceTimersByTimeAsync(0);
  for (let spent = 0; !done() && spent < budgetMs; spent += STEP_MS) {
    await jest.advanceTimersByTimeAsync(STEP_MS);
  }
}

/** A transport as the hub sees it: records what it is given. */
export class Recorder implements Subscriber {
  readonly envelopes: Envelope[] = [];
  overflows = 0;
  private waiters: { count: number; resolve: () => void }[] = [];

  get seqs(): number[] {
    return this.envelopes.map((e) => e.seq);
  }

  deliver(envelope: Envelope): void {
    this.envelopes.push(envelope);
    const due = this.waiters.filter((w) => this.envelopes.length >= w.count);
    this.waiters = this.waiters.filter((w) => this.envelopes.length < w.count);
    for (const w of due) w.resolve();
  }

  overflow(): void {
    this.overflows++;
  }

  /** Resolves once `count` messages have been delivered. */
  received(count: number): Promise<void> {
    if (this.envelopes.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

/** Postgres, Redis and this instance's hub. */
export class World {
  readonly store = new MemoryHistory();
  readonly broker = new MemoryBroker();
  readonly gaps: string[] = [];
  readonly skips: [string, number, number][] = [];
  readonly hub: Hub;

  constructor(options: HubOptions = {}) {
    this.hub = new Hub(
      this.store,
      this.broker,
      {
        onGap: (channel) => this.gaps.push(channel),
        onSkip: (channel, from, to) => this.skips.push([channel, from, to]),
      },
      options,
    );
  }

  /** Messages committed before this instance follows the channel. */
  seed(count: number, channel = CH): void {
    for (let i = 0; i < count; i++) this.store.append(channel);
  }

  /** Commits a message, then delivers it along `route`. */
  publish(route: Route = 'ingest', channel = CH): ChannelMessage {
    const message = this.store.append(channel);
    this.deliver(message, route);
    return message;
  }

  /** Like Redis, the broker only reaches this instance on channels it has subscribed. */
  deliver(message: ChannelMessage, route: Route): void {
    const ingest = () => this.hub.ingest(Envelope.fromMessage(message));
    const inject = () => {
      if (this.broker.subscribed.has(message.channel)) {
        this.broker.inject(message.channel, JSON.stringify(message));
      }
    };
    if (route === 'ingest' || route === 'ingest+inject') ingest();
    if (route === 'inject' || route === 'ingest+inject' || route === 'inject+ingest') inject();
    if (route === 'inject+ingest') ingest();
  }

  /** Subscribes and starts, as a transport does. */
  async follow(
    subscriber: Subscriber,
    after?: number,
    channel = CH,
    pageSize?: number,
  ): Promise<SubscribeResult> {
    const result = await this.hub.subscribe(channel, subscriber, after);
    await this.hub.start(result.subscription, pageSize);
    return result;
  }
}
