import { Injectable } from '@nestjs/common';
import { ChannelsService, type NamespacePublisher } from '../channels/channels.service.js';
import { Envelope } from '../channels/envelope.js';
import type { Job } from './job.js';
import type { JobEvent } from './job-state.js';
import type { Transitioned } from './jobs.store.js';

/** The namespace JobEvents claims: only it writes `job:<id>` channels. */
export const JOB_NAMESPACE = 'job';
export const jobChannel = (id: string) => `${JOB_NAMESPACE}:${id}`;

/** What a `job:<id>` message carries: a bounded summary of the job, never its payload. */
export interface JobEventData {
  event: JobEvent;
  /** The attempt the event belongs to (the job's `attempts` when it was written). */
  attempt: number;
  /** The job as GET /v1/jobs/:id answers it, without `payload`; `result` only when small. */
  job: Omit<Job, 'payload'>;
  /** Fields left out of `job`: always `payload`; `result` too when it is large. */
  omitted: ('payload' | 'result')[];
}

/**
 * Fans out the job events that JobsStore wrote in the same statement as their
 * transition (so they are committed, and in the job's order, before anyone
 * hears of them), through ChannelsService like every other message. It
 * claims the `job` namespace, so no client (admins included) can forge a
 * job's event; the claim's publisher stays private to this class.
 */
@Injectable()
export class JobEvents {
  private readonly publisher: NamespacePublisher;

  constructor(channels: ChannelsService) {
    this.publisher = channels.claimNamespace(JOB_NAMESPACE);
  }

  /** Announces the event a transition wrote, if it wrote one. */
  announce(row: Transitioned | null): void {
    if (!row?.ev_seq || !row.ev_channel || !row.ev_id || !row.ev_data || !row.ev_published_at) return;
    this.publisher.announceCommitted(
      Envelope.fromRow(row.ev_channel, Number(row.ev_seq), row.ev_id, row.ev_data, row.ev_published_at),
    );
  }
}
