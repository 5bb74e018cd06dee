import type { EventEmitter } from 'node:events';

/**
 * Catch-up pacing for the transports (see Subscriber.writable): a replay
 * waits once this much is unsent, well under the slow-consumer limit and
 * above Node's own 16 KiB highWaterMark, so a 'drain' is always on its way.
 */
export const catchUpLowWater = (maxBufferedBytes: number): number =>
  Math.max(64 * 1024, Math.floor(maxBufferedBytes / 4));

/** Resolves on the stream's next 'drain', or when it closes (a replay must never hang on a gone client). */
export function drained(stream: EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
