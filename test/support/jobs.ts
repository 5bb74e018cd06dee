import { randomBytes } from 'node:crypto';
import type { Job } from '../../src/jobs/job.js';
import { createEmptyDatabase } from './database.js';
import { get, post } from './http.js';
import { type Instance, startInstance } from './instance.js';
import { waitFor } from './wait-for.js';
import { type Msg, TestClient } from './ws-client.js';

export interface JobEvent {
  event: string;
  job: Job;
}

/**
 * Each jobs test file gets its own database and Redis key prefix, so rows and
 * queues left by another file can never be picked up by this file's workers.
 */
export async function isolatedEnv(): Promise<Record<string, string>> {
  return {
    DATABASE_URL: await createEmptyDatabase('squall_jobs'),
    REDIS_KEY_PREFIX: `squall-t-${randomBytes(3).toString('hex')}`,
  };
}

export const FAST_WORKER = {
  JOB_STALLED_INTERVAL_MS: '1000',
  JOB_LOCK_DURATION_MS: '3000',
  JOB_RECONCILE_INTERVAL_MS: '500',
};

export function startApi(env: Record<string, string>): Promise<Instance> {
  return startInstance({ ...env, ROLE: 'api,gateway' });
}

export function startWorker(
  env: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<Instance> {
  return startInstance({ ...env, ...FAST_WORKER, ROLE: 'worker', ...extra });
}

export async function submit(api: Instance, body: unknown): Promise<Job> {
  const res = await post(api.url, '/v1/jobs', body);
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as Job;
}

export async function getJob(api: Instance, id: string): Promise<Job> {
  const res = await get(api.url, `/v1/jobs/${id}`);
  if (res.status !== 200) throw new Error(`GET job answered ${res.status}`);
  return res.body as Job;
}

/** The job's events as its channel holds them (REST history), in seq order. */
export async function history(api: Instance, id: string): Promise<JobEvent[]> {
  const res = await get(api.url, `/v1/channels/job:${id}/messages?limit=1000`);
  if (res.status !== 200) throw new Error(`history answered ${res.status}`);
  return (res.body.messages as Msg[]).map((m) => m.data as JobEvent);
}

export async function waitForState(api: Instance, id: string, state: string, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const job = await getJob(api, id);
      return job.state === state ? job : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `job ${id} to be ${state}` },
  );
}

/** Follows `job:<id>` channels over the WebSocket gateway. */
export class JobWatcher {
  private constructor(readonly client: TestClient) {}

  static async connect(api: Instance): Promise<JobWatcher> {
    return new JobWatcher(await TestClient.connect(api.wsUrl));
  }

  /** Subscribes from the channel's start, so no event can be missed. */
  async follow(id: string): Promise<void> {
    await this.client.subscribe(`job:${id}`, 0);
  }

  events(id: string): JobEvent[] {
    return this.client.received(`job:${id}`).map((m) => m.data as JobEvent);
  }

  /** Resolves with the first event matching `predicate`. */
  until(
    id: string,
    predicate: (e: JobEvent) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<JobEvent> {
    return this.client.until(() => this.events(id).find(predicate), `${what} on job:${id}`, timeoutMs);
  }

  event(id: string, name: string, timeoutMs = 30_000): Promise<JobEvent> {
    return this.until(id, (e) => e.event === name, `event ${name}`, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
