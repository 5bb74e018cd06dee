import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { type Job as BullJob, Worker } from 'bullmq';
import { ChannelsService } from '../../channels/channels.service.js';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import { RedisService } from '../../infra/redis/redis.service.js';
import { JobQueues, MAINTENANCE_QUEUE, withTimeout } from '../job-queues.js';
import { JobsStore } from '../jobs.store.js';

export const HISTORY_RETENTION = 'history-retention';
export const JOBS_RETENTION = 'jobs-retention';

/**
 * Cluster-wide periodic maintenance as BullMQ job schedulers on one queue:
 * every worker upserts the same scheduler ids, and BullMQ creates one job
 * per period whichever worker runs it, so each pass runs once per cluster.
 *
 * - `history-retention` (every HISTORY_PRUNE_EVERY_MS): channel history, by
 *   HISTORY_MAX_PER_CHANNEL / HISTORY_TTL_SECONDS and namespace settings.
 * - `jobs-retention` (hourly, when JOB_RETENTION_SECONDS is set): finished jobs.
 *
 * A scheduler whose setting is off is removed at start, so turning retention
 * off on the fleet stops it; one that is on is re-created if Redis lost it.
 */
@Injectable()
export class JobsMaintenance implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('JobsMaintenance');
  private worker?: Worker;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private warned = false;
  private removalPending = false;

  constructor(
    private readonly queues: JobQueues,
    private readonly store: JobsStore,
    private readonly channels: ChannelsService,
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * Always: besides the defaults, namespaces can set their own retention
   * (see src/namespaces), and a pass with nothing to do is one small query.
   */
  private get historyOn(): boolean {
    return true;
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker(MAINTENANCE_QUEUE, (job) => this.process(job), {
      connection: this.redis.create('jobs-maintenance', { maxRetriesPerRequest: null }),
      prefix: this.redis.jobsPrefix,
      concurrency: 1,
      lockDuration: this.config.JOB_LOCK_DURATION_MS,
      stalledInterval: this.config.JOB_STALLED_INTERVAL_MS,
    });
    this.worker.on('error', (err: Error) => this.logger.warn(`maintenance worker: ${err.message}`));
    void this.ensureSchedulers(true);
    // Redis may lose its data (a restart without persistence): look again now and then.
    this.timer = setInterval(() => void this.ensureSchedulers(false), this.config.JOB_RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  private schedulers(): { id: string; every: number; on: boolean }[] {
    return [
      { id: HISTORY_RETENTION, every: this.config.HISTORY_PRUNE_EVERY_MS, on: this.historyOn },
      { id: JOBS_RETENTION, every: 3600_000, on: this.config.JOB_RETENTION_SECONDS > 0 },
    ];
  }

  /**
   * Upserts each scheduler that is on but missing (or has another period);
   * on the first pass also removes those that are off. Until it succeeds
   * (Redis away), every pass tries again.
   */
  private async ensureSchedulers(first: boolean): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    const queue = this.queues.maintenance;
    const bound = <T>(p: Promise<T>) => withTimeout(p, 5000, 'maintenance scheduler');
    try {
      for (const s of this.schedulers()) {
        if (s.on) {
          const current = await bound(queue.getJobScheduler(s.id));
          if (current && Number(current.every) === s.every) continue;
          await bound(
            queue.upsertJobScheduler(
              s.id,
              { every: s.every },
              { name: s.id, opts: { removeOnComplete: 100, removeOnFail: 100 } },
            ),
          );
          this.logger.log(`scheduler ${s.id} installed (every ${s.every} ms)`);
        } else if (first || this.removalPending) {
          await bound(queue.removeJobScheduler(s.id));
        }
      }
      this.removalPending = false;
      this.warned = false;
    } catch (err) {
      if (first) this.removalPending = true;
      if (!this.warned)
        this.logger.warn(`maintenance schedulers not in place yet: ${(err as Error).message}`);
      this.warned = true;
    } finally {
      this.busy = false;
    }
  }

  private async process(job: BullJob): Promise<unknown> {
    if (job.name === HISTORY_RETENTION) {
      if (!this.historyOn) return { skipped: 'history retention is off' };
      const deleted = await this.channels.prune({
        maxPerChannel: this.config.HISTORY_MAX_PER_CHANNEL,
        ttlSeconds: this.config.HISTORY_TTL_SECONDS,
      });
      if (deleted) this.logger.log(`history retention deleted ${deleted} message(s)`);
      return { deleted };
    }
    if (job.name === JOBS_RETENTION) {
      if (this.config.JOB_RETENTION_SECONDS <= 0) return { skipped: 'job retention is off' };
      const deleted = await this.store.deleteFinished(this.config.JOB_RETENTION_SECONDS);
      if (deleted) this.logger.log(`job retention deleted ${deleted} finished job(s)`);
      return { deleted };
    }
    return { skipped: `unknown maintenance job ${job.name}` };
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // Closed mid-connect, a BullMQ worker can die on a late connection error (see JobsWorkerService).
    await withTimeout<unknown>(
      this.worker?.waitUntilReady() ?? Promise.resolve(),
      2000,
      'maintenance ready',
    ).catch(() => undefined);
    await withTimeout(this.worker?.close() ?? Promise.resolve(), 3000, 'maintenance close').catch(
      () => undefined,
    );
  }
}
