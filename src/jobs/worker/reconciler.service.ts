import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import type { JobRow } from '../job.js';
import { JobEvents } from '../job-events.js';
import { type BullPresence, EnqueueRejectedError, JobQueues, TimeoutError } from '../job-queues.js';
import { JobRegistry, type RegisteredHandler } from '../job-registry.js';
import { isFinal } from '../job-state.js';
import { JobsMetrics } from '../jobs.metrics.js';
import { type DueRow, JobsStore } from '../jobs.store.js';

const BATCH = 200;

/**
 * Keeps BullMQ in step with Postgres, every JOB_RECONCILE_INTERVAL_MS, in
 * every worker (batches are claimed with SKIP LOCKED, so workers share the
 * work instead of repeating it). Each pending row has a due time (check_at):
 * some time after it should run, after its lease would expire, and then
 * further and further apart while it waits (see JobsStore.claimDue). A pass
 * claims the due rows only, and compares them with BullMQ in one pipelined
 * round trip per job type:
 *
 * - missing from BullMQ (Redis was down at submit, or lost its data): added;
 * - finished in BullMQ while the row is pending (its worker died in
 *   between): run again, or failed when no attempts are left;
 * - still there: BullMQ will run it (its stall check hands on the job of a
 *   dead worker).
 *
 * An active row under a live lease is not looked at: its worker renews it.
 * Events need no catch-up: each is written with its transition. A job
 * BullMQ refuses (its options) is failed; any other trouble with one row is
 * left for the next pass without holding up the others, except Redis not
 * answering, which ends the pass and hands the unchecked rows back.
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
      // Without Redis nothing can be compared: leave the due rows due.
      if (this.queues.connection.status !== 'ready') throw new Error('Redis is not connected');
      const interval = this.config.JOB_RECONCILE_INTERVAL_MS;
      const rows = await this.store.claimDue(
        this.registry.all().map((h) => h.name),
        BATCH,
        2 * interval,
        Math.max(60_000, 120 * interval),
      );
      await this.compare(rows.filter((r) => !r.live));
      this.lastError = '';
    } catch (err) {
      const message = (err as Error).message;
      // One line per distinct problem, not one per tick.
      if (message !== this.lastError) this.logger.warn(`reconcile pass failed: ${message}`);
      this.lastError = message;
    }
  }

  private async compare(rows: DueRow[]): Promise<void> {
    const byType = new Map<string, DueRow[]>();
    for (const row of rows) byType.set(row.type, [...(byType.get(row.type) ?? []), row]);
    const unchecked = new Set(rows.map((r) => r.id));
    try {
      for (const [type, group] of byType) {
        if (this.stopped) return;
        const handler = this.registry.require(type);
        const presence = await this.queues.inspect(
          handler,
          group.map((r) => r.id),
        );
        for (const row of group) {
          unchecked.delete(row.id);
          await this.repair(row, handler, presence.get(row.id) ?? 'present');
        }
      }
    } finally {
      if (unchecked.size > 0) await this.store.dueNow([...unchecked]).catch(() => undefined);
    }
  }

  private async repair(row: DueRow, handler: RegisteredHandler, presence: BullPresence): Promise<void> {
    try {
      if (presence === 'missing') {
        await this.queues.add(row, handler);
        this.metrics.reconciled.inc({ action: 'reenqueued' });
        this.logger.warn({ msg: 'job was missing from BullMQ: enqueued', jobId: row.id, state: row.state });
      } else if (presence === 'finished') {
        await this.repairFinished(row, handler);
      }
    } catch (err) {
      if (err instanceof EnqueueRejectedError) await this.failRejected(row, err);
      else if (err instanceof TimeoutError || this.queues.connection.status !== 'ready') throw err;
      else
        this.logger.warn({ msg: 'job not reconciled this pass', jobId: row.id, err: (err as Error).message });
    }
  }

  private async failRejected(row: JobRow, err: EnqueueRejectedError): Promise<void> {
    const failed = await this.store.failUnenqueueable(row.id, err.message);
    if (!failed) return;
    this.events.announce(failed);
    this.metrics.reconciled.inc({ action: 'failed' });
    this.logger.warn({
      msg: 'job failed by the reconciler',
      jobId: row.id,
      jobType: row.type,
      err: err.message,
    });
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
        this.events.announce(failed);
        this.metrics.reconciled.inc({ action: 'failed' });
      }
      return;
    }
    if (await this.queues.remove(handler, row.id)) {
      await this.queues.add(row, handler);
      this.metrics.reconciled.inc({ action: 'reenqueued' });
      this.logger.warn({
        msg: 'job finished in BullMQ but not in Postgres: run again',
        jobId: row.id,
        state: row.state,
      });
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
