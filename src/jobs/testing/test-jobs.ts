import { setTimeout as sleep } from 'node:timers/promises';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { JobHandler, type JobContext } from '../job-handler.decorator.js';

// For tests only: built by tsconfig.testing.json, never into the production
// dist/, and loaded by test instances through TEST_MODULES (see bootstrap.ts),
// so the test suite depends on no demo job type.

export class TestSleepPayload {
  @IsInt()
  @Min(0)
  @Max(600_000)
  ms!: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  steps: number = 10;

  /** Free text with no default: for tests of strings Postgres refuses and of null in optional fields. */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  label?: string;
}

/** `test.sleep`: waits `ms` in `steps` slices, reporting progress after each; honours cancel. */
@JobHandler({ name: 'test.sleep', payload: TestSleepPayload })
export class TestSleepJob {
  async run({ ms, steps }: TestSleepPayload, ctx: JobContext): Promise<{ slept: number }> {
    for (let i = 1; i <= steps; i++) {
      const slice = Math.round((ms * i) / steps) - Math.round((ms * (i - 1)) / steps);
      await sleep(slice, undefined, { signal: ctx.signal });
      await ctx.progress((i * 100) / steps);
    }
    return { slept: ms };
  }
}

export class TestFailPayload {
  @IsInt()
  @Min(0)
  @Max(100)
  failTimes!: number;
}

/** `test.fail`: fails its first `failTimes` attempts, then completes with the attempt number. */
@JobHandler({
  name: 'test.fail',
  payload: TestFailPayload,
  attempts: 3,
  backoff: { type: 'exponential', delayMs: 100 },
})
export class TestFailJob {
  async run({ failTimes }: TestFailPayload, ctx: JobContext): Promise<{ attempt: number }> {
    if (ctx.attempt <= failTimes) throw new Error(`test.fail: attempt ${ctx.attempt} fails on purpose`);
    return { attempt: ctx.attempt };
  }
}
