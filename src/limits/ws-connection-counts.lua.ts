/**
 * Open WebSockets per client key and per address, counted in Redis so the
 * caps hold across instances, in a shape that survives an instance killed
 * without a word (SIGKILL, OOM, a lost host):
 *
 * - KEYS[1], a sorted set of live instances: member = instance id, score =
 *   the lease's end (ms, Redis clock). Each instance renews its lease with a
 *   heartbeat (one command per instance, whatever its number of connections).
 * - one hash per counted key (client key, address): field = instance id,
 *   value = that instance's open connections for the key.
 *
 * A total sums only the fields of instances whose lease is current, and
 * deletes the others' as it goes: a dead instance's connections stop counting
 * when its lease ends, with nothing to clean up. All keys share one hash tag
 * ({wsconn}), so the script runs on a Redis Cluster too.
 */

/**
 * KEYS: instances, key hash, address hash. ARGV: instance, lease ms, cap per
 * key, cap per address, hash ttl ms. Returns {verdict, rejoined}: verdict 0
 * (admitted), 1 (key at its cap), 2 (address at its cap); rejoined 1 when the
 * instance had no current lease (its counts were dropped: it must resend them).
 */
export const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local rejoined = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local function total(hash)
  local fields = redis.call('HGETALL', hash)
  local sum = 0
  for i = 1, #fields, 2 do
    if redis.call('ZSCORE', KEYS[1], fields[i]) then
      sum = sum + tonumber(fields[i + 1])
    else
      redis.call('HDEL', hash, fields[i])
    end
  end
  return sum
end
for i = 1, 2 do
  local cap = tonumber(ARGV[i + 2])
  if cap > 0 and total(KEYS[i + 1]) >= cap then return { i, rejoined } end
end
for i = 2, 3 do
  redis.call('HINCRBY', KEYS[i], ARGV[1], 1)
  redis.call('PEXPIRE', KEYS[i], ARGV[5])
end
return { 0, rejoined }
`;

/** KEYS: the hashes. ARGV: instance. One connection fewer in each. */
export const RELEASE = `
for i = 1, #KEYS do
  if redis.call('HINCRBY', KEYS[i], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return 0
`;

/** KEYS: instances. ARGV: instance, lease ms. Renews the lease; returns 1 when the instance had lost it (its counts were dropped). */
export const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
`;

/** KEYS: hashes. ARGV: instance, ttl ms, then one count per key. Writes this instance's counts as they are (0 deletes). */
export const SYNC = `
for i = 1, #KEYS do
  local n = tonumber(ARGV[i + 2])
  if n > 0 then
    redis.call('HSET', KEYS[i], ARGV[1], n)
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  else
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
end
return 0
`;
