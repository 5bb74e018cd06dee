import { Injectable } from '@nestjs/common';
import { AppError } from '../infra/errors/app-error.js';
import { allowedBy } from './channel-patterns.js';
import type { Principal } from './principal.js';

/** Decides who reads a namespace's channels, in place of the token's `subscribe` patterns. */
export type ReadRule = (principal: Principal, channel: string) => boolean | Promise<boolean>;

/**
 * Who may read and publish which channel. Transports ask it before they call
 * ChannelsService. A feature that owns a namespace (jobs owns `job:`) may
 * register the rule for reading it: job channels are read by the job's
 * owner, whatever patterns the token carries.
 */
@Injectable()
export class ChannelAccess {
  private readonly readRules = new Map<string, ReadRule>();

  registerReadRule(namespace: string, rule: ReadRule): void {
    if (this.readRules.has(namespace)) throw new Error(`a read rule for ${namespace}: is already registered`);
    this.readRules.set(namespace, rule);
  }

  async canRead(principal: Principal, channel: string): Promise<boolean> {
    if (principal.admin) return true;
    const rule = this.readRules.get(channel.split(':')[0]);
    return rule ? rule(principal, channel) : allowedBy(principal.subscribe, channel);
  }

  canPublish(principal: Principal, channel: string): boolean {
    return principal.admin || allowedBy(principal.publish, channel);
  }

  async assertCanRead(principal: Principal, channel: string): Promise<void> {
    if (!(await this.canRead(principal, channel))) {
      throw new AppError('forbidden', `this token may not read channel ${channel}`);
    }
  }

  assertCanPublish(principal: Principal, channel: string): void {
    if (!this.canPublish(principal, channel)) {
      throw new AppError('forbidden', `this token may not publish to channel ${channel}`);
    }
  }
}
