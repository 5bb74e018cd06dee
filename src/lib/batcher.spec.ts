import { Batcher } from './batcher.js';

/** A batch runner whose batches finish only when the test says so. */
function controlledRunner() {
  const batches: { items: number[]; finish: () => void }[] = [];
  const run = (items: number[]) =>
    new Promise<PromiseSettledResult<number>[]>((resolve) => {
      batches.push({
        items,
        finish: () =>
          resolve(
            items.map((n) =>
              n < 0
                ? { status: 'rejected', reason: new Error(`bad ${n}`) }
                : { status: 'fulfilled', value: n * 10 },
            ),
          ),
      });
    });
  return { batches, run };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('starts a call at once while a slot is free, and groups the calls that wait', async () => {
    const { batches, run } = controlledRunner();
    const batcher = new Batcher(run, { maxInFlight: 1, maxItems: 100 });
    const first = batcher.submit(1);
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[1]]);
    const waiting = [2, 3, 4].map((n) => batcher.submit(n));
    await tick();
    expect(batcher.waiting).toBe(3);
    batches[0].finish();
    expect(await first).toBe(10);
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3, 4]]);
    batches[1].finish();
    expect(await Promise.all(waiting)).toEqual([20, 30, 40]);
  });

  it('settles each item on its own', async () => {
    const { batches, run } = controlledRunner();
    const batcher = new Batcher(run, { maxInFlight: 2, maxItems: 100 });
    const calls = [5, -1, 6].map((n) => batcher.submit(n));
    await tick();
    batches.forEach((b) => b.finish());
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('bounds a batch by count and by weight, always taking at least one item', async () => {
    const { batches, run } = controlledRunner();
    const batcher = new Batcher(run, { maxInFlight: 1, maxItems: 3, maxWeight: 10, weigh: (n: number) => n });
    const all = [1, 2, 3, 4, 9, 20, 1].map((n) => batcher.submit(n));
    for (let i = 0; i < 6 && batches.length <= i + 1; i++) {
      await tick();
      batches[batches.length - 1].finish();
    }
    await Promise.all(all);
    expect(batches.map((b) => b.items)).toEqual([[1, 2, 3], [4], [9], [20], [1]]);
  });

  it('rejects every item of a batch whose runner throws, and keeps going', async () => {
    let fail = true;
    const batcher = new Batcher(
      (items: number[]) =>
        fail
          ? Promise.reject(new Error('down'))
          : Promise.resolve(items.map((value) => ({ status: 'fulfilled' as const, value }))),
      { maxInFlight: 1, maxItems: 10 },
    );
    await expect(batcher.submit(1)).rejects.toThrow('down');
    fail = false;
    await expect(batcher.submit(2)).resolves.toBe(2);
  });
});
