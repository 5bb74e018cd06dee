import { classify, cursorAfterSubscribe, Subscription } from './subscription.js';
import type { Message } from './types.js';

const msg = (seq: number): Message => ({
  channel: 'c',
  seq,
  id: `id-${seq}`,
  data: { seq },
  publishedAt: '2026-01-01T00:00:00.000Z',
});

function harness(after?: number) {
  const delivered: number[] = [];
  const truncated: Array<{ after: number; firstSeq?: number }> = [];
  const errors: unknown[] = [];
  const sub = new Subscription('c', { after }, (m) => delivered.push(m.seq), {
    truncated: (e) => truncated.push({ after: e.after, firstSeq: e.firstSeq }),
    callbackError: (e) => errors.push(e),
    unsubscribe: () => undefined,
  });
  return { sub, delivered, truncated, errors };
}

describe('classify', () => {
  it('delivers the next seq, drops what was delivered, calls a jump a gap', () => {
    expect(classify(undefined, 7)).toBe('deliver');
    expect(classify(6, 7)).toBe('deliver');
    expect(classify(7, 7)).toBe('duplicate');
    expect(classify(7, 3)).toBe('duplicate');
    expect(classify(7, 9)).toBe('gap');
  });
});

describe('cursorAfterSubscribe', () => {
  it('starts at the channel end without after, and clamps an after from beyond it', () => {
    expect(cursorAfterSubscribe(undefined, 42)).toBe(42);
    expect(cursorAfterSubscribe(10, 42)).toBe(10);
    expect(cursorAfterSubscribe(0, 0)).toBe(0);
    expect(cursorAfterSubscribe(500, 42)).toBe(42);
  });
});

describe('Subscription', () => {
  it('delivers each seq once across a resume that overlaps what already arrived', () => {
    const { sub, delivered } = harness(0);
    sub.resumeFrom();
    sub.subscribed(3, false);
    [1, 2, 3].map(msg).forEach((m) => sub.deliver(m));
    // Reconnect: resume from 3, but the transport replays 2..5 (e.g. an overlapping SSE stream).
    expect(sub.resumeFrom()).toBe(3);
    sub.subscribed(5, false);
    [2, 3, 4, 5, 4].map(msg).forEach((m) => sub.deliver(m));
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
    expect(sub.lastSeq).toBe(5);
  });

  it('without after, starts at the lastSeq the server reported', () => {
    const { sub, delivered } = harness();
    expect(sub.resumeFrom()).toBeUndefined();
    sub.subscribed(10, false);
    expect(sub.lastSeq).toBe(10);
    [10, 11].map(msg).forEach((m) => sub.deliver(m));
    expect(delivered).toEqual([11]);
  });

  it('after a database reset (after beyond the end), takes the next message instead of dropping it', () => {
    const { sub, delivered } = harness(900);
    sub.resumeFrom();
    sub.subscribed(2, false);
    sub.deliver(msg(3));
    expect(delivered).toEqual([3]);
  });

  it('reports truncation once: from the server flag, or from a gap it sees itself', () => {
    const flagged = harness(0);
    flagged.sub.resumeFrom();
    flagged.sub.subscribed(20, true);
    [16, 17].map(msg).forEach((m) => flagged.sub.deliver(m));
    expect(flagged.truncated).toEqual([{ after: 0, firstSeq: undefined }]);
    expect(flagged.delivered).toEqual([16, 17]);

    const seen = harness(0);
    seen.sub.resumeFrom();
    seen.sub.subscribed(20, false);
    [16, 17].map(msg).forEach((m) => seen.sub.deliver(m));
    expect(seen.truncated).toEqual([{ after: 0, firstSeq: 16 }]);
    expect(seen.delivered).toEqual([16, 17]);
  });

  it('a throwing callback is reported and does not stop or repeat delivery', () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const sub = new Subscription(
      'c',
      { after: 0 },
      (m) => {
        seen.push(m.seq);
        if (m.seq === 2) throw new Error('app bug');
      },
      { truncated: () => undefined, callbackError: (e) => errors.push(e), unsubscribe: () => undefined },
    );
    sub.resumeFrom();
    sub.subscribed(0, false);
    [1, 2, 2, 3].map(msg).forEach((m) => sub.deliver(m));
    expect(seen).toEqual([1, 2, 3]);
    expect(errors).toHaveLength(1);
  });

  it('delivers nothing after unsubscribe', () => {
    const { sub, delivered } = harness(0);
    sub.resumeFrom();
    sub.subscribed(0, false);
    sub.deliver(msg(1));
    sub.unsubscribe();
    sub.deliver(msg(2));
    expect(delivered).toEqual([1]);
    expect(sub.isActive).toBe(false);
  });
});

describe('Subscription.ready', () => {
  it('rejects with closed when unsubscribed before the server confirmed, and stays resolved after', async () => {
    const early = harness(0);
    early.sub.unsubscribe();
    await expect(early.sub.ready).rejects.toMatchObject({ code: 'closed' });

    const confirmed = harness(0);
    confirmed.sub.resumeFrom();
    confirmed.sub.subscribed(0, false);
    confirmed.sub.unsubscribe();
    await expect(confirmed.sub.ready).resolves.toBeUndefined();
  });
});
