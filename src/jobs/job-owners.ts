import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ChannelAccess } from '../auth/channel-access.js';
import type { Principal } from '../auth/principal.js';
import { UUID } from './job.js';
import { JOB_NAMESPACE } from './job-events.js';
import { JobsStore } from './jobs.store.js';

/** Owners kept per instance: ~100 bytes each, so the cache stays around a megabyte. */
const KEPT = 10_000;

/**
 * Who owns which job, for the `job` namespace's read rule: `job:<id>` is read
 * by the job's owner (and admins, whom ChannelAccess lets through before any
 * rule), whatever channel patterns the token carries. A job's owner never
 * changes, so an answer is kept (least recently used out first) and a
 * subscribe, a history page or a poll loop costs no query after the first;
 * concurrent lookups of one job share one query. A missing job is not kept:
 * it may be one whose submit another instance is committing.
 */
@Injectable()
export class JobOwners implements OnModuleInit {
  private readonly known = new Map<string, string | null>();
  private readonly lookups = new Map<string, Promise<string | null | undefined>>();

  constructor(
    private readonly store: JobsStore,
    private readonly access: ChannelAccess,
  ) {}

  onModuleInit(): void {
    this.access.registerReadRule(JOB_NAMESPACE, (principal, channel) => this.mayRead(principal, channel));
  }

  /** Only the owner reads `job:<id>` (admins never reach a rule); no sub, no job, a bad id: no. */
  async mayRead(principal: Principal, channel: string): Promise<boolean> {
    if (principal.admin) return true;
    const id = channel.slice(JOB_NAMESPACE.length + 1);
    if (principal.sub === null || !UUID.test(id)) return false;
    return (await this.ownerOf(id)) === principal.sub;
  }

  /** Records an owner known without a query (the job was just submitted here). */
  remember(id: string, owner: string | null): void {
    const key = id.toLowerCase();
    this.known.delete(key);
    this.known.set(key, owner);
    if (this.known.size > KEPT) this.known.delete(this.known.keys().next().value!);
  }

  /** The job's owner (null: an open-mode job), undefined when there is no such job. */
  async ownerOf(id: string): Promise<string | null | undefined> {
    const key = id.toLowerCase();
    if (this.known.has(key)) {
      const owner = this.known.get(key) ?? null;
      this.remember(key, owner); // most recently used now
      return owner;
    }
    let lookup = this.lookups.get(key);
    if (!lookup) {
      lookup = this.store.ownerOf(key).finally(() => this.lookups.delete(key));
      this.lookups.set(key, lookup);
    }
    const owner = await lookup;
    if (owner !== undefined) this.remember(key, owner);
    return owner;
  }
}
