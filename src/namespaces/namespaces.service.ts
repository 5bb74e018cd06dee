import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { AppError } from '../infra/errors/app-error.js';
import type { CreateNamespaceDto, NamespaceSettingsDto } from './dto/namespace-settings.dto.js';
import { NamespaceEntity } from './namespace.entity.js';

/** What the channel core applies to a channel; null = the instance default. */
export interface NamespacePolicy {
  clientPublish: boolean;
  historyMaxPerChannel: number | null;
  historyTtlSeconds: number | null;
}

const DEFAULT_POLICY: NamespacePolicy = {
  clientPublish: true,
  historyMaxPerChannel: null,
  historyTtlSeconds: null,
};

/** How long an instance trusts its copy of a namespace's settings: changes reach every instance within it. */
export const POLICY_CACHE_MS = 5000;

/**
 * Namespaces through a TypeORM repository: plain CRUD needs no SQL. The
 * channel core asks {@link policyFor} on every client publish, so answers are
 * cached per instance for {@link POLICY_CACHE_MS}.
 */
@Injectable()
export class NamespacesService {
  private readonly cache = new Map<string, { policy: NamespacePolicy; until: number }>();

  constructor(@InjectRepository(NamespaceEntity) private readonly repo: Repository<NamespaceEntity>) {}

  list(): Promise<NamespaceEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async get(name: string): Promise<NamespaceEntity> {
    const found = await this.repo.findOneBy({ name });
    if (!found) throw new AppError('not_found', `namespace ${name} not found`);
    return found;
  }

  /** A duplicate name is a 409 from the unique constraint itself (see database-constraints.ts). */
  async create(dto: CreateNamespaceDto): Promise<NamespaceEntity> {
    const saved = await this.repo.save(this.repo.create({ id: randomUUID(), ...dto }));
    this.cache.delete(saved.name);
    return saved;
  }

  async update(name: string, dto: NamespaceSettingsDto): Promise<NamespaceEntity> {
    const current = await this.get(name);
    // Absent (undefined) leaves a field as it is; null clears a nullable one.
    for (const [key, value] of Object.entries(dto)) {
      if (value !== undefined) (current as unknown as Record<string, unknown>)[key] = value;
    }
    const saved = await this.repo.save(current);
    this.cache.delete(name);
    return saved;
  }

  async remove(name: string): Promise<void> {
    const { affected } = await this.repo.delete({ name });
    if (!affected) throw new AppError('not_found', `namespace ${name} not found`);
    this.cache.delete(name);
  }

  /** The settings for `channel`'s namespace (defaults for a channel without one, or an unknown one). */
  async policyFor(channel: string): Promise<NamespacePolicy> {
    const colon = channel.indexOf(':');
    if (colon <= 0) return DEFAULT_POLICY;
    const name = channel.slice(0, colon);
    const cached = this.cache.get(name);
    if (cached && cached.until > Date.now()) return cached.policy;
    const row = await this.repo.findOne({
      where: { name },
      select: { clientPublish: true, historyMaxPerChannel: true, historyTtlSeconds: true },
    });
    const policy = row
      ? {
          clientPublish: row.clientPublish,
          historyMaxPerChannel: row.historyMaxPerChannel,
          historyTtlSeconds: row.historyTtlSeconds,
        }
      : DEFAULT_POLICY;
    this.cache.set(name, { policy, until: Date.now() + POLICY_CACHE_MS });
    return policy;
  }
}
