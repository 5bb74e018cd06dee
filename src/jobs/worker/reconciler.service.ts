import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '../../config/app-config.js';
import type { JobRow } from '../job.js';
import { JobEvents } from '../job-events.js';
import { EnqueueRejectedError, JobQueues, TimeoutError } from '../job-queues.js';
import { JobRegistry, type RegisteredHandler } from '../job-registry.js';
import { type JobEvent, isFinal } from '../job-state.js';
import { JobsMetrics } from '../jobs.metrics.js';
import { JobsStore } from '../jobs.store.js';

const BATCH = 200;

/**
 * Keeps BullMQ in step with Postgres, every JOB_RECONCILE_INTERVAL_MS, in
 * every worker (batches are claimed with SKIP LOCKED, so workers share the
 * work instead of repeating it):
 *
 * 1. queued rows BullMQ never got (Redis was down at submit) are enqueued;
 * 2. pending rows are compared with BullMQ (see JobsStore.claimForCheck for
 *    which, when): a job Redis lost (restart without persistence, flush) is
 *    enqueued again; one BullMQ finished without the row following (a worker
 *    died in between) is re-run, or failed when it has no attempts left;
 * 3. final events that could not be published are published again (same
 *    idempotency key, so never twice).
 *
 * A job BullMQ refuses (its options) is failed; any other trouble with one
 * row is left for the next pass without holding up the others, except Redis
 * not answering, which ends the pass (every row would wait out the timeout).
 * So a committed job always runs, or ends in a final state, and says so.
 */
@Injectable()
export class JobsReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('JobsReconciler');
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;
  private lastError = '';

  constructor(
    private readonly store: JobsStore,
    private readonly queues: JobQueues,
    private readonly registry: JobRegistry,
    private readonly events: JobEvents,
    private readonly metrics: JobsMetrics,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.config.JOB_RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  /** One pass; public for tests and tools. */
  async tick(): Promise<void> {
    try {
      await this.enqueueMissing();
      await this.compareWithBullMQ();
      await this.announceFinals();
      this.lastError = '';
    } catch (err) {
      const message = (err as Error).message;
      // One line per distinct problem, not one per tick.
      if (message !== this.lastError) this.logger.warn(`reconcile pass failed: ${message}`);
      this.lastError = message;
    }
  }

  private types(): string[] {
    return this.registry.all().map((h) => h.name);
  }

  private async enqueueMissing(): Promise<void> {
    const rows = await this.store.claimUnenqueued(this.types(), BATCH, this.config.JOB_RECONCILE_INTERVAL_MS);
    await this.eachRow(rows, async (row, handler) => {
      await this.queues.add(row, handler);
      await this.store.markEnqueued(row.id);
      this.metrics.reconciled.inc({ action: 'enqueued' });
      this.logger.log(`enqueued job ${row.id} (${row.type}) that BullMQ had not received`);
    });
  }

  private async compareWithBullMQ(): Promise<void> {
    const interval = this.config.JOB_RECONCILE_INTERVAL_MS;
    // Re-adding a job BullMQ still has is a no-op, so queued rows can be
    // checked soon after any write; a running job is left alone while its
    // worker may still hold it, as before.
    const quiet = { queuedMs: interval, activeMs: Math.max(10_000, this.config.JOB_LOCK_DURATION_MS * 2) };
    const recheck = { dueMs: interval * 3, laterMs: Math.max(60_000, interval * 10) };
    const rows = await this.store.claimForCheck(this.types(), BATCH, quiet, recheck);
    await this.eachRow(rows, async (row, handler) => {
      const state = await this.queues.state(handler, row.id);
      if (state === 'unknown') {
        await this.queues.add(row, handler);
        this.metrics.reconciled.inc({ action: 'reenqueued' });
        this.logger.warn(`job ${row.id} (${row.state}) was missing from BullMQ: enqueued again`);
      } else if (state === 'completed' || state === 'failed') {
        await this.repairFinished(row, handler);
      }
    });
  }

  private async eachRow(
    rows: JobRow[],
    fn: (row: JobRow, handler: RegisteredHandler) => Promise<void>,
  ): Promise<void> {
    for (const row of rows) {
      if (this.stopped) return;
      try {
        await fn(row, this.registry.require(row.type));
      } catch (err) {
        if (err instanceof EnqueueRejectedError) await this.failRejected(row, err);
        else if (err instanceof TimeoutError || this.queues.connection.status !== 'ready') throw err;
        else this.logger.warn(`job ${row.id} not reconciled this pass: ${(err as Error).message}`);
      }
    }
  }

  private async failRejected(row: JobRow, err: EnqueueRejectedError): Promise<void> {
    const failed = await this.store.failUnenqueueable(row.id, err.message);
    if (!failed) return;
    this.metrics.reconciled.inc({ action: 'failed' });
    this.logger.warn(`job ${row.id} (${row.type}) failed: ${err.message}`);
    await this.events.publish('failed', failed, JobEvents.finalKey('failed'));
  }

  /** BullMQ is done with a job whose row is still pending. */
  private async repairFinished(claimed: JobRow, handler: RegisteredHandler): Promise<void> {
    // Workers write the row before BullMQ finishes the job, so a row that
    // changed since the claim was only caught mid-transition.
    const row = await this.store.get(claimed.id);
    if (!row || isFinal(row.state) || row.updated_at.getTime() !== claimed.updated_at.getTime()) return;
    if (row.attempts >= row.max_attempts) {
      const reason =
        (await this.queues.failedReason(handler, row.id).catch(() => undefined)) ?? 'execution lost';
      const failed = await this.store.failExhausted(row.id, `no attempts left: ${reason}`);
      if (failed) {
        this.metrics.reconciled.inc({ action: 'failed' });
        await this.events.publish('failed', failed, JobEvents.finalKey('failed'));
      }
      return;
    }
    if (await this.queues.remove(handler, row.id)) {
      await this.queues.add(row, handler);
      this.metrics.reconciled.inc({ action: 'reenqueued' });
      this.logger.warn(`job ${row.id} was finished in BullMQ but ${row.state} in Postgres: run again`);
    }
  }

  private async announceFinals(): Promise<void> {
    const rows = await this.store.unannounced(BATCH, 5000);
    for (const row of rows) {
      if (this.stopped) return;
      const event = row.state as JobEvent;
      if (await this.events.publish(event, row, JobEvents.finalKey(event))) {
        this.metrics.reconciled.inc({ action: 'announced' });
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
