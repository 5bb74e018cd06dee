import { Injectable, Logger } from '@nestjs/common';
import { ChannelsService } from '../channels/channels.service.js';
import { isDatabaseUnavailable } from '../common/database-errors.js';
import { type AppConfig, InjectConfig } from '../config/app-config.js';
import { type Job, type JobRow, toJob } from './job.js';
import { type JobEvent, isFinal } from './job-state.js';
import { JobsStore } from './jobs.store.js';

export const jobChannel = (id: string) => `job:${id}`;

/** What a `job:<id>` message carries. */
export interface JobEventData {
  event: JobEvent;
  job: Job;
  /** Fields left out of `job` because the message would pass MAX_MESSAGE_BYTES (GET /v1/jobs/:id has them). */
  omitted?: ('payload' | 'result')[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Publishes job events through ChannelsService, the one way anything reaches
 * subscribers. Each event has an idempotency key naming the transition
 * (`active:<lease>`, `progress:<lease>:<n>`, `completed`...), so a publish
 * retried after a lost answer, or repeated by the reconciler, appears once.
 */
@Injectable()
export class JobEvents {
  private readonly logger = new Logger(JobEvents.name);

  constructor(
    private readonly channels: ChannelsService,
    private readonly store: JobsStore,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The event's data, trimmed to fit a channel message. */
  data(event: JobEvent, row: JobRow): JobEventData {
    const job = toJob(row);
    const full: JobEventData = { event, job };
    const limit = this.config.MAX_MESSAGE_BYTES;
    if (Buffer.byteLength(JSON.stringify(full)) <= limit) return full;
    const noPayload: JobEventData = { event, job: { ...job, payload: null }, omitted: ['payload'] };
    if (Buffer.byteLength(JSON.stringify(noPayload)) <= limit) return noPayload;
    return { event, job: { ...job, payload: null, result: null }, omitted: ['payload', 'result'] };
  }

  /**
   * Publishes, retrying while Postgres is briefly unreachable. Never throws:
   * the row is already the truth; a final event that could not be published
   * is found again by the reconciler (final_event_pending). Returns whether
   * the event is out.
   */
  async publish(event: JobEvent, row: JobRow, idempotencyKey: string): Promise<boolean> {
    const data = this.data(event, row);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.channels.publish(jobChannel(row.id), data, { asService: true, idempotencyKey });
        break;
      } catch (err) {
        if (attempt >= 4 || !isDatabaseUnavailable(err)) {
          this.logger.warn(`could not publish ${event} for job ${row.id}: ${(err as Error).message}`);
          return false;
        }
        await sleep(200 * 2 ** attempt);
      }
    }
    if (event === 'completed' || event === 'failed' || event === 'cancelled') {
      await this.store.markAnnounced(row.id).catch(() => undefined);
    }
    return true;
  }

  /**
   * Publishes the final event of job `id` if its row says it is still owed
   * (final_event_pending). Used by whoever learns of a final state it did not
   * cause itself: the worker whose job was cancelled, the API's backstop.
   */
  async announcePending(id: string): Promise<void> {
    const row = await this.store.get(id).catch(() => null);
    if (row && row.final_event_pending && isFinal(row.state)) {
      const event = row.state as JobEvent;
      await this.publish(event, row, JobEvents.finalKey(event));
    }
  }

  /** The idempotency key of a final event: a job reaches one final state, once. */
  static finalKey(event: JobEvent): string {
    return event;
  }
}
