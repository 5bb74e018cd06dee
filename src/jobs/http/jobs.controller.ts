import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import type { Principal } from '../../auth/principal.js';
import { ApiErrors, IDEMPOTENT_REPLAYED } from '../../docs/openapi.js';
import { Job as JobDoc, JobList, JobTypes, SubmitJobBody } from '../../docs/openapi-models.js';
import { RateLimited } from '../../limits/rate-limited.decorator.js';
import { JobRegistry } from '../job-registry.js';
import type { Job } from '../job.js';
import { JobsService, type SubmitInput } from '../jobs.service.js';
import { ListJobsQuery } from './list-jobs.query.js';
import { idempotencyKeyOf, parseSubmitBody } from './submit-body.js';

@ApiTags('jobs')
@ApiErrors(401, 503)
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
  @ApiOperation({ summary: 'Submit a job' })
  @ApiBody({ type: SubmitJobBody })
  @ApiResponse({
    status: 202,
    description: 'the job (new, or the original for a reused idempotencyKey)',
    type: JobDoc,
    headers: {
      Location: { description: '/v1/jobs/<id>', schema: { type: 'string' } },
      ...IDEMPOTENT_REPLAYED,
    },
  })
  @ApiErrors(400, 413, 429)
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimited('job_submit')
  async submit(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ) {
    let input: SubmitInput;
    try {
      input = parseSubmitBody(body);
    } catch (err) {
      return this.answer(res, await this.jobs.replayOr(principal, err, idempotencyKeyOf(body)));
    }
    return this.answer(res, await this.jobs.submit(principal, input));
  }

  private answer(res: Response, { job, created }: { job: Job; created: boolean }): Job {
    res.setHeader('Location', `/v1/jobs/${job.id}`);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return job;
  }

  @ApiOperation({
    summary: 'List jobs, newest first',
    description:
      "An admin's list holds every job; anyone else's only the jobs their token's `sub` submitted.",
  })
  @ApiQuery({
    name: 'state',
    required: false,
    enum: ['queued', 'active', 'completed', 'failed', 'cancelled'],
  })
  @ApiQuery({ name: 'type', required: false, schema: { type: 'string', maxLength: 64 } })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  })
  @ApiQuery({
    name: 'cursor',
    required: false,
    schema: { type: 'string' },
    description: 'nextCursor of the previous page',
  })
  @ApiOkResponse({ type: JobList })
  @ApiErrors(400)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() q: ListJobsQuery) {
    return this.jobs.list(principal, q);
  }

  /** The registered job types and their defaults. */
  @ApiOperation({ summary: 'The registered job types and their defaults' })
  @ApiOkResponse({ type: JobTypes })
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

  @ApiOperation({
    summary: 'One job',
    description: "404 unless the token's `sub` submitted it or the token is an admin's.",
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: JobDoc })
  @ApiErrors(400, 404)
  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.jobs.get(principal, id);
  }

  @ApiOperation({
    summary: 'Cancel a queued or active job',
    description: "404 unless the token's `sub` submitted it or the token is an admin's.",
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: JobDoc, description: 'the job, now cancelled' })
  @ApiErrors(400, 404, 409)
  @Post(':id/cancel')
  @HttpCode(HttpStatus.OK)
  cancel(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.jobs.cancel(principal, id);
  }
}
