import { IsInt, Max, Min } from 'class-validator';
import { JobHandler, type JobContext } from '../jobs/job-handler.decorator.js';

export class FailPayload {
  @IsInt()
  @Min(0)
  @Max(100)
  failTimes!: number;
}

/** Fails its first `failTimes` attempts, then completes with the attempt number. */
@JobHandler({
  name: 'demo.fail',
  payload: FailPayload,
  attempts: 3,
  backoff: { type: 'exponential', delayMs: 100 },
})
export class FailJob {
  async run({ failTimes }: FailPayload, ctx: JobContext): Promise<{ attempt: number }> {
    if (ctx.attempt <= failTimes) {
      throw new Error(`demo.fail: attempt ${ctx.attempt} fails on purpose (failTimes=${failTimes})`);
    }
    return { attempt: ctx.attempt };
  }
}
