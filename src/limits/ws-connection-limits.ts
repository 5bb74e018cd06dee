import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { RedisClient } from '../infra/redis/redis.service.js';
import type { Principal } from '../auth/principal.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { hasRole } from '../infra/config/config.schema.js';
import { rawHttpError } from '../infra/http/raw-http-error.js';
import { clientAddressResolver } from './client-address.js';
import { clientKeyOf } from './client-key.js';
import { type LimitName, LimitsMetrics } from './limits.metrics.js';
import { RedisLimitGate } from './redis-limit-gate.js';
import { ACQUIRE, RELEASE, RENEW, SYNC } from './ws-connection-counts.lua.js';

/** A refused client may try again this much later (a connection elsewhere has to close first). */
export const WS_REFUSED_RETRY_AFTER_S = 5;
/** A count key outlives its last change this long; heartbeats renew the ones still in use. */
const HASH_TTL_MS = 3_600_000;
/** Keys written per sync call, so a resync after an outage never builds one huge script call. */
const SYNC_CHUNK = 500;

type Counted = RedisClient & {
  squallWsAcquire(...args: string[]): Promise<[number, number]>;
  squallWsRelease(...args: string[]): Promise<number>;
  squallWsRenew(...args: string[]): Promise<number>;
  squallWsSync(...args: string[]): Promise<number>;
};

const clientKeys = new WeakMap<IncomingMessage, string>();

/** The client key found when `req` was upgraded (see WsConnectionLimits.admit). */
export function upgradeClientKey(req: IncomingMessage): string {
  return clientKeys.get(req) ?? clientKeyOf(null, req.socket.remoteAddress ?? 'unknown');
}

/**
 * WS_MAX_CONNECTIONS_PER_KEY and WS_MAX_CONNECTIONS_PER_IP: open WebSockets
 * per client key (token `sub`, or the address in open mode) and per client
 * address, across every instance, decided on the HTTP upgrade before it is
 * accepted (429 with Retry-After). The counts live in Redis (see
 * ws-connection-counts.lua.ts for the shape that survives a killed
 * instance); this instance also keeps its own counts, which it resends after
 * Redis lost them and which decide alone (a per-instance cap) while Redis
 * does not answer.
 */
@Injectable()
export class WsConnectionLimits implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly instance = randomUUID();
  /** Count key → this instance's open connections for it, and when its TTL was last renewed. */
  private readonly held = new Map<string, { count: number; renewedAt: number }>();
  /** Redis may not match `held` (a failed write, a lost lease): resend at the next heartbeat. */
  private dirty = false;
  private heartbeat?: NodeJS.Timeout;
  private readonly addressOf: (req: IncomingMessage) => string;
  private readonly redis: Counted;
  private readonly instances: string;
  private readonly perKey: number;
  private readonly perIp: number;
  private readonly leaseMs: number;
  private readonly gateName: LimitName;

  constructor(
    private readonly gate: RedisLimitGate,
    private readonly metrics: LimitsMetrics,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.addressOf = clientAddressResolver(config.TRUST_PROXY);
    this.perKey = config.WS_MAX_CONNECTIONS_PER_KEY;
    this.perIp = config.WS_MAX_CONNECTIONS_PER_IP;
    this.leaseMs = config.WS_CONNECTION_LEASE_MS;
    this.gateName = this.perKey > 0 ? 'ws_connections_per_key' : 'ws_connections_per_ip';
    this.instances = gate.redis.key('{wsconn}', 'instances');
    const redis = gate.redis.command;
    if (!('squallWsAcquire' in redis)) {
      redis.defineCommand('squallWsAcquire', { numberOfKeys: 3, lua: ACQUIRE });
      redis.defineCommand('squallWsRelease', { lua: RELEASE });
      redis.defineCommand('squallWsRenew', { numberOfKeys: 1, lua: RENEW });
      redis.defineCommand('squallWsSync', { lua: SYNC });
    }
    this.redis = redis as Counted;
  }

  get enabled(): boolean {
    return this.perKey > 0 || this.perIp > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled || !hasRole(this.config, 'gateway')) return;
    this.heartbeat = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** Leaving: this instance's connections stop counting at once rather than when the lease ends. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    if (!this.enabled) return;
    await this.gate.try(this.gateName, () => this.redis.zrem(this.instances, this.instance));
  }

  /**
   * Decides on a WebSocket upgrade before it is accepted. true: admitted, and
   * counted until `socket` closes. false: the 429 (with Retry-After) has been
   * written and the socket ended. Also records the request's client key for
   * the gateway (upgradeClientKey).
   */
  async admit(
    req: IncomingMessage,
    socket: Duplex,
    principal?: Pick<Principal, 'sub'> | null,
  ): Promise<boolean> {
    const address = this.addressOf(req);
    const clientKey = clientKeyOf(principal, address);
    clientKeys.set(req, clientKey);
    if (!this.enabled) return true;
    const keys = [this.countKey('key', clientKey), this.countKey('ip', address)];
    const answer = await this.gate.try(this.gateName, () =>
      this.redis.squallWsAcquire(
        this.instances,
        keys[0],
        keys[1],
        this.instance,
        String(this.leaseMs),
        String(this.perKey),
        String(this.perIp),
        String(HASH_TTL_MS),
      ),
    );
    const verdict = answer ? answer[0] : this.localVerdict(keys);
    if (verdict !== 0) {
      const limit: LimitName = verdict === 1 ? 'ws_connections_per_key' : 'ws_connections_per_ip';
      this.metrics.refusal(limit);
      const [cap, of] = verdict === 1 ? [this.perKey, 'client'] : [this.perIp, 'address'];
      socket.end(
        rawHttpError(429, 'Too Many Requests', `at most ${cap} open WebSockets per ${of}`, {
          'Retry-After': String(WS_REFUSED_RETRY_AFTER_S),
        }),
      );
      return false;
    }
    this.count(keys, 1);
    // Not counted in Redis (no answer), or Redis had dropped this instance: resend our counts.
    if (!answer || answer[1] === 1) this.dirty = true;
    if (answer?.[1] === 1) void this.sync();
    if (socket.destroyed) {
      this.release(keys);
      return false;
    }
    socket.once('close', () => this.release(keys));
    return true;
  }

  private release(keys: string[]): void {
    this.count(keys, -1);
    void this.gate
      .try(this.gateName, () => this.redis.squallWsRelease(String(keys.length), ...keys, this.instance))
      .then((done) => {
        if (done === undefined) this.dirty = true;
      });
  }

  /** While Redis does not answer, each cap holds per instance, by this instance's own counts. */
  private localVerdict(keys: string[]): number {
    if (this.perKey > 0 && (this.held.get(keys[0])?.count ?? 0) >= this.perKey) return 1;
    if (this.perIp > 0 && (this.held.get(keys[1])?.count ?? 0) >= this.perIp) return 2;
    return 0;
  }

  private count(keys: string[], by: number): void {
    for (const key of keys) {
      const held = this.held.get(key) ?? { count: 0, renewedAt: Date.now() };
      held.count += by;
      // A key at 0 is kept while Redis is out of step, so the resync deletes its field.
      if (held.count <= 0 && !this.dirty) this.held.delete(key);
      else this.held.set(key, held);
    }
  }

  /** The heartbeat: renews the lease, resends the counts when Redis may have lost them, renews TTLs. */
  private async renew(): Promise<void> {
    const rejoined = await this.gate.try(this.gateName, () =>
      this.redis.squallWsRenew(this.instances, this.instance, String(this.leaseMs)),
    );
    if (rejoined === undefined) {
      this.dirty = true;
      return;
    }
    if (rejoined === 1) this.dirty = true;
    await this.sync();
  }

  /** Writes this instance's counts: all of them when dirty, else those whose TTL is half spent. */
  private async sync(): Promise<void> {
    const all = this.dirty;
    this.dirty = false;
    const now = Date.now();
    const due = [...this.held].filter(([, h]) => all || now - h.renewedAt > HASH_TTL_MS / 2);
    for (let i = 0; i < due.length; i += SYNC_CHUNK) {
      const chunk = due.slice(i, i + SYNC_CHUNK);
      const done = await this.gate.try(this.gateName, () =>
        this.redis.squallWsSync(
          String(chunk.length),
          ...chunk.map(([key]) => key),
          this.instance,
          String(HASH_TTL_MS),
          ...chunk.map(([, h]) => String(Math.max(0, h.count))),
        ),
      );
      if (done === undefined) {
        this.dirty = true;
        return;
      }
      for (const [key, h] of chunk) {
        h.renewedAt = now;
        if (h.count <= 0 && this.held.get(key) === h) this.held.delete(key);
      }
    }
  }

  private countKey(kind: 'key' | 'ip', value: string): string {
    return this.gate.redis.key('{wsconn}', kind, value);
  }
}
