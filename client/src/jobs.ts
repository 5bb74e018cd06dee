import type { SquallClient } from './client.js';
import { newKey } from './client.js';
import { SquallError } from './errors.js';
import type { Job, JobEvent, JobState } from './types.js';

export interface SubmitOptions {
  /**
   * Names this submit: a repeat returns the original job. Generated when left
   * out, so the client's own retries (a dropped connection, a 503) never
   * create the job twice.
   */
  idempotencyKey?: string;
  /** Run no earlier than this long after the submit. */
  delayMs?: number;
  /** 0 (default) runs first; otherwise lower runs sooner. */
  priority?: number;
  /** Attempts in all; default: the job type's. */
  attempts?: number;
}

export interface ListOptions {
  state?: JobState;
  type?: string;
  limit?: number;
  cursor?: string;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** Background jobs (docs/jobs.md). */
export class Jobs {
  constructor(private readonly client: SquallClient) {}

  /** Creates a job; resolves with it (state `queued`). */
  async submit<Payload = unknown>(
    type: string,
    payload?: Payload,
    options: SubmitOptions = {},
  ): Promise<Job<Payload>> {
    const body = {
      type,
      payload: payload ?? {},
      ...options,
      idempotencyKey: options.idempotencyKey ?? newKey(),
    };
    return (await this.client.request<Job<Payload>>('/v1/jobs', { method: 'POST', body })).body;
  }

  async get<Payload = unknown, Result = unknown>(id: string): Promise<Job<Payload, Result>> {
    return (await this.client.request<Job<Payload, Result>>(`/v1/jobs/${encodeURIComponent(id)}`)).body;
  }

  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  async list(options: ListOptions = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    const query = Object.entries(options)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join('&');
    return (
      await this.client.request<{ jobs: Job[]; nextCursor: string | null }>(
        `/v1/jobs${query ? `?${query}` : ''}`,
      )
    ).body;
  }

  /**
   * Cancels a queued or running job; resolves with it in state `cancelled`.
   * Cancelling a job that is already cancelled resolves too (so a retry whose
   * first answer was lost is harmless); one that already completed or failed
   * rejects with `conflict`.
   */
  async cancel(id: string): Promise<Job> {
    try {
      return (await this.client.request<Job>(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' }))
        .body;
    } catch (err) {
      if (!(err instanceof SquallError) || err.code !== 'conflict') throw err;
      const job = await this.get(id);
      if (job.state === 'cancelled') return job;
      throw err;
    }
  }

  /**
   * The job's events from its first one (`after: 0` on `job:<id>`), resumed
   * across reconnects like any subscription, ending after the final event
   * (`completed`, `failed` or `cancelled`). Breaking out of the loop
   * unsubscribes. Rejects with `not_found` for an unknown job, `closed` when
   * the client is closed meanwhile.
   */
  async *follow<Payload = unknown, Result = unknown>(
    id: string,
  ): AsyncGenerator<JobEvent<Payload, Result>, void> {
    // A job that does not exist would never publish: say so (`not_found`) instead of waiting forever.
    await this.get(id);
    const queue: JobEvent<Payload, Result>[] = [];
    let failure: SquallError | undefined;
    let wake: (() => void) | undefined;
    const sub = this.client.subscribe<Omit<JobEvent<Payload, Result>, 'seq'>>(
      `job:${id}`,
      { after: 0 },
      (message) => {
        queue.push({ ...message.data, seq: message.seq });
        wake?.();
      },
    );
    const stopErrors = sub.on('error', ({ error }) => {
      failure = error;
      wake?.();
    });
    try {
      for (;;) {
        // Before the queue: after close() nothing more is handed out.
        if (failure) throw failure;
        const event = queue.shift();
        if (event) {
          yield event;
          if (FINAL.has(event.event)) return;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stopErrors();
      sub.unsubscribe();
    }
  }
}
