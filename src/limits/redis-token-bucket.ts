import type { RedisClient } from '../infra/redis/redis.service.js';

/**
 * A token bucket as GCRA (the generic cell rate algorithm): one key per
 * client holding the "theoretical arrival time" (TAT) of its next request,
 * in ms of Redis's own clock (TIME), so instance clocks never matter. A
 * request is allowed when TAT - (burst - 1) × interval <= now; it then moves
 * TAT one interval on. The key expires when the bucket would be full again,
 * so idle clients cost nothing. One round trip (EVALSHA), one key: a Redis
 * Cluster hashes it like any other.
 *
 * ARGV[1]: interval in ms between tokens (1000 / rate per second); ARGV[2]: burst.
 * Returns 0 when allowed, else the ms until a request would be.
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now))
return 0
`;

type WithGcra = RedisClient & { squallGcra(key: string, intervalMs: string, burst: string): Promise<number> };

export class RedisTokenBucket {
  private readonly intervalMs: string;
  private readonly burst: string;

  /** `ratePerSec` tokens a second, up to `burst` at once, per key. */
  constructor(
    private readonly redis: RedisClient,
    ratePerSec: number,
    burst: number,
  ) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new Error('token bucket needs a rate > 0 and a burst >= 1');
    this.intervalMs = String(1000 / ratePerSec);
    this.burst = String(Math.floor(burst));
    // ioredis sends EVALSHA and falls back to EVAL once after a Redis restart.
    if (!('squallGcra' in redis)) redis.defineCommand('squallGcra', { numberOfKeys: 1, lua: GCRA });
  }

  /** Takes a token for `key`: 0 when allowed, else the ms until one is available. */
  take(key: string): Promise<number> {
    return (this.redis as WithGcra).squallGcra(key, this.intervalMs, this.burst);
  }
}
