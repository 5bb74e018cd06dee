import { setTimeout as sleep } from 'node:timers/promises';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { JobHandler, type JobContext } from '../jobs/job-handler.decorator.js';

export class SleepPayload {
  @IsInt()
  @Min(0)
  @Max(600_000)
  ms!: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  steps: number = 10;
}

/** Sleeps `ms` in `steps` slices, reporting progress after each. */
@JobHandler({ name: 'demo.sleep', payload: SleepPayload })
export class SleepJob {
  async run({ ms, steps }: SleepPayload, ctx: JobContext): Promise<{ slept: number }> {
    for (let i = 1; i <= steps; i++) {
      await sleep(Math.round((ms * i) / steps) - Math.round((ms * (i - 1)) / steps), undefined, {
        signal: ctx.signal,
      });
      await ctx.progress((i * 100) / steps);
    }
    return { slept: ms };
  }
}
