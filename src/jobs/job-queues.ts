import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { type JobsOptions, Job, Queue } from 'bullmq';
import type { RedisClient } from '../infra/redis/redis.service.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { RedisService } from '../infra/redis/redis.service.js';
import type { JobRow } from './job.js';
import { JobRegistry, type RegisteredHandler } from './job-registry.js';
import { TimeoutError, withTimeout } from '../lib/timeout.js';
import { Batcher } from '../lib/batcher.js';

/** A BullMQ add waiting for its batch. */
interface Add {
  name: string;
  data: unknown;
  opts: JobsOptions;
}

const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
  promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

export { TimeoutError, withTimeout };

export const MAINTENANCE_QUEUE = 'system.maintenance';

/** What BullMQ holds for a job: nothing, a job still to run (waiting, delayed, active), or a finished one. */
export type BullPresence = 'missing' | 'present' | 'finished';

/** BullMQ refuses the job's options: retrying cannot help, unlike a Redis that does not answer. */
export class EnqueueRejectedError extends Error {
  override readonly name = 'EnqueueRejectedError';
}

/**
 * Runs BullMQ's own option checks (the ones `Queue.add` runs once connected)
 * without Redis, so a job BullMQ will never take is told apart from an outage.
 */
class OptionsCheck extends Job {
  check(): void {
    this.validateOptions(this.asJSON());
  }
}

/**
 * The BullMQ side every role needs: one Queue per job type to enqueue into
 * (plus the maintenance queue), and the cancel broadcast. Queue commands use a
 * connection without an offline queue, so while Redis is down they fail at
 * once instead of piling up, and each call is also bounded by
 * JOB_ENQUEUE_TIMEOUT_MS: a submit never hangs on Redis.
 */
@Injectable()
export class JobQueues implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(JobQueues.name);
  private readonly queues = new Map<string, Queue>();
  /** Concurrent adds to one queue go to Redis together: one pipelined round trip (Queue.addBulk). */
  private readonly adders = new Map<string, Batcher<Add, void>>();
  readonly connection: RedisClient;
  /** Redis pub/sub channel on which cancelled job ids are announced to workers. */
  readonly cancelChannel: string;

  constructor(
    private readonly redis: RedisService,
    private readonly registry: JobRegistry,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.connection = redis.create('jobs-queue', { maxRetriesPerRequest: null, enableOfflineQueue: false });
    this.cancelChannel = redis.key('jobs', 'cancel');
  }

  onModuleInit(): void {
    for (const handler of this.registry.all()) this.queueFor(handler.queue);
    this.queueFor(MAINTENANCE_QUEUE);
  }

  private queueFor(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.redis.jobsPrefix });
      queue.on('error', (err: Error) => this.logger.debug(`queue ${name}: ${err.message}`));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Every queue, for the board and the depth metric. */
  all(): Queue[] {
    return [...this.queues.values()];
  }

  get maintenance(): Queue {
    return this.queueFor(MAINTENANCE_QUEUE);
  }

  queue(handler: RegisteredHandler): Queue {
    return this.queueFor(handler.queue);
  }

  /**
   * Hands the row to BullMQ under its own id (a repeated add of the same id is
   * a no-op there). The delay is what remains of `run_at`, so a job enqueued
   * late by the reconciler does not wait twice. Throws an
   * {@link EnqueueRejectedError} when BullMQ refuses the options, and a
   * TimeoutError when Redis does not answer in time.
   */
  async add(row: JobRow, handler: RegisteredHandler): Promise<void> {
    const delay = Math.max(0, row.run_at.getTime() - Date.now());
    const queue = this.queue(handler);
    // The payload is shown on the board; the handler reads it from the row.
    // (The reconciler re-adds jobs without it: the row is the truth.)
    const data = row.payload === undefined ? {} : { payload: row.payload };
    const opts: JobsOptions = {
      jobId: row.id,
      attempts: row.max_attempts,
      backoff: { type: handler.backoff.type, delay: handler.backoff.delayMs },
      delay: delay > 0 ? delay : undefined,
      priority: row.priority > 0 ? row.priority : undefined,
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
    };
    try {
      new OptionsCheck(queue, row.type, data, opts, row.id).check();
    } catch (err) {
      throw new EnqueueRejectedError(`BullMQ refuses the job: ${(err as Error).message}`);
    }
    await withTimeout(
      this.adder(queue).submit({ name: row.type, data, opts }),
      this.config.JOB_ENQUEUE_TIMEOUT_MS,
      `enqueue of job ${row.id}`,
    );
  }

  /**
   * The group commit of one queue's adds: alone, a job is added as usual;
   * while adds are in flight, those arriving meanwhile go together in one
   * `addBulk` (each job its own script call, pipelined). Should the bulk fail,
   * its jobs are added again one by one (an add under an existing id is a
   * no-op), so each caller learns its own outcome.
   */
  private adder(queue: Queue): Batcher<Add, void> {
    let adder = this.adders.get(queue.name);
    if (!adder) {
      const one = async (a: Add) => void (await queue.add(a.name, a.data, a.opts));
      adder = new Batcher<Add, void>(
        async (adds) => {
          if (adds.length > 1) {
            try {
              await queue.addBulk(adds);
              return adds.map(() => ({ status: 'fulfilled', value: undefined }));
            } catch {
              // Redo below, one by one.
            }
          }
          return Promise.all(adds.map((a) => settle(one(a))));
        },
        // A Redis that hangs must not queue adds without bound: past this, the
        // add fails at once and the reconciler enqueues the job later.
        { maxInFlight: 2, maxItems: 200, maxQueued: 10_000 },
      );
      this.adders.set(queue.name, adder);
    }
    return adder;
  }

  /** Removes a waiting or delayed job; false when it is locked (running) or Redis did not answer. */
  async remove(handler: RegisteredHandler, id: string): Promise<boolean> {
    try {
      return (
        (await withTimeout(this.queue(handler).remove(id), this.config.JOB_ENQUEUE_TIMEOUT_MS, 'remove')) ===
        1
      );
    } catch (err) {
      this.logger.debug(`could not remove job ${id} from BullMQ: ${(err as Error).message}`);
      return false;
    }
  }

  /**
   * Whether BullMQ has each job, and whether it has finished it, in one
   * pipelined round trip: HMGET of two fields of each job's hash (O(1) per
   * job, unlike getJobState, which scans the wait list).
   */
  async inspect(handler: RegisteredHandler, ids: string[]): Promise<Map<string, BullPresence>> {
    const queue = this.queue(handler);
    const pipeline = this.connection.pipeline();
    for (const id of ids) pipeline.hmget(queue.toKey(id), 'timestamp', 'finishedOn');
    const replies = await withTimeout(pipeline.exec(), this.config.JOB_ENQUEUE_TIMEOUT_MS, 'job inspection');
    const out = new Map<string, BullPresence>();
    ids.forEach((id, i) => {
      const [err, fields] = replies?.[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const [timestamp, finishedOn] = fields as (string | null)[];
      out.set(id, !timestamp ? 'missing' : finishedOn ? 'finished' : 'present');
    });
    return out;
  }

  async failedReason(handler: RegisteredHandler, id: string): Promise<string | undefined> {
    const job = await withTimeout(
      this.queue(handler).getJob(id),
      this.config.JOB_ENQUEUE_TIMEOUT_MS,
      'getJob',
    );
    return job?.failedReason;
  }

  /** Tells every worker that job `id` was cancelled, so the one running it aborts it. Best effort. */
  async signalCancel(id: string): Promise<void> {
    try {
      await withTimeout(
        this.connection.publish(this.cancelChannel, id),
        this.config.JOB_ENQUEUE_TIMEOUT_MS,
        'cancel signal',
      );
    } catch (err) {
      this.logger.debug(`cancel signal for ${id} not sent (workers poll for it): ${(err as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      this.all().map((q) => withTimeout(q.close(), 2000, 'queue close').catch(() => undefined)),
    );
  }
}
