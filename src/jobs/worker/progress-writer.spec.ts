import { jest } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import type { Transitioned } from '../jobs.store.js';
import { PROGRESS_WINDOW_MS, ProgressWriter } from './progress-writer.js';

/** A writer against a scripted store, on fake timers (performance.now included). */
function setup() {
  const written: number[] = [];
  const announced: number[] = [];
  const store = {
    progress: async (_id: string, _lease: string, p: number) => {
      written.push(p);
      return { progress: p } as Transitioned;
    },
  };
  const events = { announce: (row: Transitioned | null) => void announced.push(row!.progress) };
  const logger = { warn: () => undefined } as unknown as Logger;
  const writer = new ProgressWriter('id', 'lease', { store, events }, logger, () => undefined);
  return { writer, written, announced };
}

describe('ProgressWriter', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('writes nothing in the attempt’s first window, then the latest value once per window', async () => {
    const t = setup();
    for (const p of [10, 20, 30]) await t.writer.write(p);
    expect(t.written).toEqual([]);

    await jest.advanceTimersByTimeAsync(PROGRESS_WINDOW_MS);
    expect(t.written).toEqual([30]);
    expect(t.announced).toEqual([30]);

    await t.writer.write(40);
    await t.writer.write(50);
    await jest.advanceTimersByTimeAsync(PROGRESS_WINDOW_MS - 1);
    expect(t.written).toEqual([30]);
    await jest.advanceTimersByTimeAsync(1);
    expect(t.written).toEqual([30, 50]);
  });

  it('drops a value still waiting when the attempt ends', async () => {
    const t = setup();
    await t.writer.write(100);
    await t.writer.close();
    await jest.advanceTimersByTimeAsync(10 * PROGRESS_WINDOW_MS);
    expect(t.written).toEqual([]);
  });
});
