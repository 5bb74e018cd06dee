import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { type Job, Worker } from 'bullmq';
import type { RedisClient } from '../../infra/redis/redis.service.js';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import { RedisService } from '../../infra/redis/redis.service.js';
import { JobEvents } from '../job-events.js';
import { JobQueues, withTimeout } from '../job-queues.js';
import { JobRegistry } from '../job-registry.js';
import { JobsMetrics } from '../jobs.metrics.js';
import { JobsStore } from '../jobs.store.js';
import { JobsBatchStore } from '../jobs-batch.store.js';
import { JobRunner, type Run } from './job-runner.js';

/**
 * The worker role: one BullMQ Worker per job type (so each type has its own
 * concurrency), cancellation delivery, and the graceful drain.
 *
 * Cancel reaches the process running a job two ways: a Redis pub/sub message
 * with the job id (immediate), and, as a backstop for a missed message, the
 * heartbeat: every few seconds one statement renews the leases of all the
 * attempts this process runs (see {@link leaseMs}) and answers those it could
 * not renew — cancelled, or taken over after their lease expired — which are
 * then aborted.
 */
/**
 * How long an attempt's lease holds without renewal: three times BullMQ's
 * lock. A worker whose event loop is blocked (a CPU-bound handler) renews
 * neither; BullMQ then takes the job for stalled and hands it to another
 * worker, which finds the lease still live and waits for it instead of
 * running the job a second time at once. So a handler may block for up to
 * about two lock durations; only a worker silent for the whole lease is dead.
 */
export const leaseMs = (config: Pick<AppConfig, 'JOB_LOCK_DURATION_MS'>) => 3 * config.JOB_LOCK_DURATION_MS;

/** How often the leases are renewed: several times per lease, and at least as often as the reconciler runs. */
export const heartbeatMs = (config: Pick<AppConfig, 'JOB_LOCK_DURATION_MS' | 'JOB_RECONCILE_INTERVAL_MS'>) =>
  Math.min(config.JOB_RECONCILE_INTERVAL_MS, Math.floor(leaseMs(config) / 6));

@Injectable()
export class JobsWorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('JobsWorker');
  private readonly workers: Worker[] = [];
  private readonly runs = new Set<Run>();
  /** Job ids cancelled lately, for an attempt that registers just after its cancel message. */
  private readonly recentCancels = new Map<string, number>();
  /** Every processor call in progress, activated or not yet. */
  private readonly processing = new Set<Promise<unknown>>();
  private stopping = false;
  private givingBack = false;
  private subscriber?: RedisClient;
  private leaseTimer?: NodeJS.Timeout;
  private beating = false;
  private heartbeatFailing = false;

  constructor(
    private readonly registry: JobRegistry,
    private readonly store: JobsStore,
    private readonly batched: JobsBatchStore,
    private readonly events: JobEvents,
    private readonly metrics: JobsMetrics,
    private readonly queues: JobQueues,
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const connection = this.redis.create('jobs-worker', { maxRetriesPerRequest: null });
    for (const handler of this.registry.all()) {
      const runner = new JobRunner(handler, {
        store: this.store,
        batched: this.batched,
        events: this.events,
        metrics: this.metrics,
        maxResultBytes: this.config.MAX_MESSAGE_BYTES,
        leaseMs: leaseMs(this.config),
        stopping: () => this.stopping,
        track: (run) => {
          this.runs.add(run);
          // The cancel may have been announced while this attempt was still activating.
          if (this.recentCancels.has(run.id)) run.abort('cancelled', 'the job was cancelled');
          // Activated after the shutdown deadline: give it back at once.
          else if (this.givingBack) run.abort('shutdown', 'the worker is shutting down');
        },
        untrack: (run) => this.runs.delete(run),
      });
      const processor = (job: Job, token?: string) => {
        const processing = runner.process(job, token);
        this.processing.add(processing);
        void processing.catch(() => undefined).finally(() => this.processing.delete(processing));
        return processing;
      };
      const worker = new Worker(handler.queue, processor, {
        connection,
        prefix: this.redis.jobsPrefix,
        concurrency: handler.concurrency,
        lockDuration: this.config.JOB_LOCK_DURATION_MS,
        stalledInterval: this.config.JOB_STALLED_INTERVAL_MS,
        // The row counts attempts, stalls included, and fails the job when they run out.
        maxStalledCount: 1000,
        autorun: false,
      });
      worker.on('error', (err: Error) =>
        this.logger.warn({ msg: 'worker error', jobType: handler.name, err: err.message }),
      );
      this.workers.push(worker);
      void worker
        .run()
        .catch((err: Error) =>
          this.logger.error({ msg: 'worker stopped', jobType: handler.name, err: err.message }),
        );
    }
    this.listenForCancels();
    this.leaseTimer = setInterval(() => void this.heartbeat(), heartbeatMs(this.config));
    this.leaseTimer.unref();
    this.logger.log(
      `running ${this.registry
        .all()
        .map((h) => `${h.name}×${h.concurrency}`)
        .join(', ')}`,
    );
  }

  private listenForCancels(): void {
    const subscriber = this.redis.create('jobs-cancel');
    this.subscriber = subscriber;
    const subscribe = () =>
      subscriber.subscribe(this.queues.cancelChannel).catch((err: Error) => {
        this.logger.warn(`cancel channel subscribe failed: ${err.message}`);
      });
    void subscribe();
    subscriber.on('message', (_channel: string, id: string) => {
      for (const run of this.runs) if (run.id === id) run.abort('cancelled', 'the job was cancelled');
      this.recentCancels.set(id, Date.now());
      if (this.recentCancels.size > 1000) {
        const cutoff = Date.now() - 60_000;
        for (const [k, at] of this.recentCancels) if (at < cutoff) this.recentCancels.delete(k);
      }
    });
  }

  /** Resolves once no processor is running, or after `ms`. */
  private async idle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.processing.size > 0 && Date.now() < deadline) {
      await withTimeout(Promise.allSettled([...this.processing]), deadline - Date.now(), 'drain').catch(
        () => undefined,
      );
    }
  }

  /**
   * Renews the leases of local attempts; aborts those whose lease is no
   * longer current (cancelled, or taken over after it expired).
   */
  private async heartbeat(): Promise<void> {
    const runs = [...this.runs];
    if (runs.length === 0 || this.beating) return;
    this.beating = true;
    try {
      const stale = await this.store.heartbeat(
        runs.map((r) => ({ id: r.id, lease: r.lease })),
        leaseMs(this.config),
      );
      const byLease = new Map(runs.map((r) => [r.lease, r]));
      for (const s of stale) {
        const run = byLease.get(s.lease);
        if (!run) continue;
        if (s.state === 'cancelled') run.abort('cancelled', 'the job was cancelled');
        else run.abort('lost', `the job is no longer held by this attempt (now ${s.state ?? 'deleted'})`);
      }
      this.heartbeatFailing = false;
    } catch (err) {
      // Once per outage, not once per beat.
      if (!this.heartbeatFailing) this.logger.warn(`lease heartbeat failed: ${(err as Error).message}`);
      this.heartbeatFailing = true;
    } finally {
      this.beating = false;
    }
  }

  /**
   * SIGTERM: stop taking jobs, let running ones finish within the shutdown
   * budget, then abort the rest with reason `shutdown` — their processors put
   * the row back to queued (the attempt not counted) and the BullMQ job back
   * to wait, for another worker. A handler that ignores its signal is given
   * back by this method directly; BullMQ's stall check hands its job on.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // The heartbeat goes on while jobs drain: their leases must not expire meanwhile.
    const budget = this.config.SHUTDOWN_TIMEOUT_MS;
    const drainMs = Math.max(budget - 2000, Math.floor(budget * 0.6));
    const graceMs = Math.min(1000, Math.floor(budget * 0.2));
    // A worker still connecting when shutdown begins (Ctrl-C right after
    // start) must finish connecting first: BullMQ drops its error listeners
    // on close, and a connection attempt failing after that would be an
    // unhandled 'error' that kills the process.
    await Promise.all(
      this.workers.map((w) => withTimeout(w.waitUntilReady(), 2000, 'worker ready').catch(() => undefined)),
    );
    await Promise.all(this.workers.map((w) => w.pause(true).catch(() => undefined)));

    if (this.processing.size > 0) {
      this.logger.log(`draining ${this.processing.size} running job(s), up to ${drainMs} ms`);
      await this.idle(drainMs);
    }
    if (this.processing.size > 0) {
      this.logger.warn(`giving back ${this.runs.size} job(s) still running at the shutdown deadline`);
      this.givingBack = true;
      for (const run of this.runs) run.abort('shutdown', 'the worker is shutting down');
      await this.idle(graceMs);
    }
    const stuck = [...this.runs];
    for (const run of stuck) {
      // Ignored its signal: requeue the row here; its BullMQ lock expires with this process.
      await this.store.requeue(run.id, run.lease).catch(() => undefined);
      this.metrics.attempt(run.type, 'requeued', 0);
    }
    await Promise.all(
      this.workers.map((w) =>
        withTimeout(w.close(this.processing.size > 0), 2000, 'worker close').catch(() => undefined),
      ),
    );
    clearInterval(this.leaseTimer);
    await this.subscriber?.unsubscribe().catch(() => undefined);
  }
}
