import { Worker } from 'node:worker_threads';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { JobHandler, type JobContext } from '../jobs/job-handler.decorator.js';

export class CpuPayload {
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  iterations!: number;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  seed: string = 'squall';
}

/**
 * The thread's code: chains SHA-256 `iterations` times from the seed and
 * reports each percent. Evaluated as a script so it needs no separate file in
 * dist/ and works the same from src/ under a test runner.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { iterations, seed } = workerData;
let digest = Buffer.from(seed, 'utf8');
const step = Math.max(1, Math.floor(iterations / 100));
for (let i = 1; i <= iterations; i++) {
  digest = createHash('sha256').update(digest).digest();
  if (i % step === 0 && i < iterations) parentPort.postMessage({ progress: Math.floor((i * 100) / iterations) });
}
parentPort.postMessage({ digest: digest.toString('hex') });
`;

/**
 * CPU-bound hashing in a worker thread, so the event loop (and BullMQ's lock
 * renewal) never waits for it; cancelling terminates the thread.
 */
@JobHandler({ name: 'demo.cpu', payload: CpuPayload, concurrency: 2 })
export class CpuJob {
  run({ iterations, seed }: CpuPayload, ctx: JobContext): Promise<{ digest: string; iterations: number }> {
    return new Promise((resolve, reject) => {
      const thread = new Worker(THREAD, { eval: true, workerData: { iterations, seed } });
      const onAbort = () => {
        void thread.terminate();
        reject(ctx.signal.reason);
      };
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const done = () => ctx.signal.removeEventListener('abort', onAbort);
      thread.on('message', (m: { progress?: number; digest?: string }) => {
        if (m.digest !== undefined) {
          done();
          resolve({ digest: m.digest, iterations });
        } else if (m.progress !== undefined) void ctx.progress(m.progress);
      });
      thread.on('error', (err) => {
        done();
        reject(err);
      });
      thread.on('exit', (code) => {
        done();
        reject(new Error(`hashing thread exited with code ${code}`));
      });
    });
  }
}
