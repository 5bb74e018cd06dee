import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { JobRegistry } from '../job-registry.js';
import type { Job } from '../job.js';
import { JobsService, type SubmitInput } from '../jobs.service.js';
import { ListJobsQuery } from './list-jobs.query.js';
import { idempotencyKeyOf, parseSubmitBody } from './submit-body.js';

@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly registry: JobRegistry,
  ) {}

  /**
   * 202 with the job, for a new submit and for a repeated idempotencyKey
   * alike (then `Idempotent-Replayed: true`), even when the repeat's body is
   * refused: a retrying client gets its original job.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async submit(@Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    let input: SubmitInput;
    try {
      input = parseSubmitBody(body);
    } catch (err) {
      return this.answer(res, await this.jobs.replayOr(err, idempotencyKeyOf(body)));
    }
    return this.answer(res, await this.jobs.submit(input));
  }

  private answer(res: Response, { job, created }: { job: Job; created: boolean }): Job {
    res.setHeader('Location', `/v1/jobs/${job.id}`);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return job;
  }

  @Get()
  list(@Query() q: ListJobsQuery) {
    return this.jobs.list(q);
  }

  /** The registered job types and their defaults. */
  @Get('types')
  types() {
    return {
      types: this.registry.all().map((h) => ({
        name: h.name,
        attempts: h.attempts,
        concurrency: h.concurrency,
        backoff: h.backoff,
        timeoutMs: h.timeoutMs ?? null,
      })),
    };
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(HttpStatus.OK)
  cancel(@Param('id') id: string) {
    return this.jobs.cancel(id);
  }
}
