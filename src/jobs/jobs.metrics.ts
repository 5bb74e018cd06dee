import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { InjectMetrics } from '../infra/metrics/metrics.js';
import { JobQueues, withTimeout } from './job-queues.js';

/** How one attempt ended, as the duration histogram and the outcome counter label it. */
export type AttemptOutcome = 'completed' | 'failed' | 'retried' | 'cancelled' | 'requeued' | 'lost';

const BULL_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'paused', 'failed', 'completed'] as const;

/** Job metrics in the instance's /metrics. */
@Injectable()
export class JobsMetrics {
  readonly submitted: Counter<'type'>;
  readonly outcomes: Counter<'type' | 'outcome'>;
  readonly duration: Histogram<'type' | 'outcome'>;
  readonly enqueueFailures: Counter<'type'>;
  readonly reconciled: Counter<'action'>;

  constructor(@InjectMetrics() registry: Registry, queues: JobQueues) {
    this.submitted = new Counter({
      name: 'squall_jobs_submitted_total',
      help: 'Jobs created by this instance (idempotent replays not counted)',
      labelNames: ['type'],
      registers: [registry],
    });
    this.outcomes = new Counter({
      name: 'squall_job_attempts_total',
      help: 'Job attempts ended in this process, by outcome (completed, failed, retried, cancelled, requeued, lost)',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'squall_job_duration_seconds',
      help: 'Run time of job attempts in this worker, by type and outcome',
      labelNames: ['type', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    });
    this.enqueueFailures = new Counter({
      name: 'squall_jobs_enqueue_failures_total',
      help: 'Submits whose BullMQ enqueue failed or timed out (the reconciler enqueues them later)',
      labelNames: ['type'],
      registers: [registry],
    });
    this.reconciled = new Counter({
      name: 'squall_jobs_reconciled_total',
      help: 'Repairs made by the reconciler (enqueued, reenqueued, failed, announced)',
      labelNames: ['action'],
      registers: [registry],
    });
    new Gauge({
      name: 'squall_jobs_queue_depth',
      help: 'Jobs in each BullMQ queue by BullMQ state, read at scrape time (absent when Redis does not answer within 1 s)',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        const all = queues.all();
        const counts = await withTimeout(
          Promise.all(all.map((q) => q.getJobCounts(...BULL_STATES))),
          1000,
          'queue depth',
        ).catch(() => null);
        if (!counts) return;
        all.forEach((queue, i) => {
          for (const state of BULL_STATES) this.set({ queue: queue.name, state }, counts[i][state] ?? 0);
        });
      },
    });
  }

  attempt(type: string, outcome: AttemptOutcome, seconds: number): void {
    this.outcomes.inc({ type, outcome });
    this.duration.observe({ type, outcome }, seconds);
  }
}
