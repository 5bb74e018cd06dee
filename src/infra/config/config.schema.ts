import { hostname } from 'node:os';
import { z } from 'zod';

export const ROLES = ['api', 'gateway', 'worker'] as const;
export type Role = (typeof ROLES)[number];

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be an integer between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a ${protocols.join(' or ')}// URL`,
    );

/** A comma list: entries trimmed, empty ones dropped. */
const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const roles = commaList
  .pipe(
    z
      .array(z.enum(ROLES, { error: `must be a comma list of ${ROLES.join(', ')}` }))
      .min(1, `must name at least one of ${ROLES.join(', ')}`),
  )
  .transform((list) => [...new Set(list)] as Role[]);

const clusterNodes = commaList.pipe(
  z
    .array(
      z
        .string()
        .max(255)
        .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be a comma list of host:port'),
    )
    .min(1, 'must name at least one host:port')
    .max(64, 'must name at most 64 seed nodes'),
);

const MIN_SECRET = 32;
const secretList = commaList.pipe(
  z
    .array(
      z.string().min(MIN_SECRET, `must be a comma list of secrets of at least ${MIN_SECRET} characters each`),
    )
    .min(1, 'must name at least one secret'),
);

/** Variables whose value never appears in an error message. */
const SECRET_VARIABLES = new Set(['AUTH_JWT_SECRET', 'METRICS_TOKEN']);

/**
 * Every setting the process reads, with its default. Environment variables are
 * strings, so each entry parses a string; an unset variable takes the default.
 */
export const configFields = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PORT: int(1, 65535).default(3000),
  /**
   * How long an idle kept-alive HTTP connection stays open. Node's 5 s is
   * shorter than a long-poll client's pause between polls under load and
   * than most balancers' idle timeouts (60 s): the client or balancer then
   * reuses a socket the server is closing and gets a reset (a 502 behind a
   * balancer). Above 60 s, as balancer vendors advise.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1000, 600_000).default(65_000),
  /** Names this instance in the X-Squall-Instance header, the WebSocket `subscribed` reply and log lines; default hostname:PORT. */
  INSTANCE_ID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'must be 1 to 128 of A-Z a-z 0-9 _ . : @ -')
    .optional(),
  ROLE: roles.default([...ROLES]),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: int(2, 500).default(20),
  /** Postgres ends a statement running longer (the client waits 5 s more); 0 is refused: it must end before the client gives up. */
  DATABASE_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(25_000),
  MIGRATIONS_RUN: bool.default(true),
  /** The one Redis every instance shares; required unless REDIS_CLUSTER_NODES is set. */
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  /** Redis Cluster seed nodes, a comma list of host:port; switches fan-out to sharded pub/sub and BullMQ to the cluster. */
  REDIS_CLUSTER_NODES: clusterNodes.optional(),
  REDIS_KEY_PREFIX: z.string().trim().max(64).default('squall'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `token`: every endpoint but health, metrics and docs needs a JWT; `open`: no authentication. Unset: `token` when a key is configured. */
  AUTH_MODE: z.enum(['open', 'token'], { error: 'must be open or token' }).optional(),
  /** HS256 secrets, a comma list so keys can be rotated: tokens are signed with the first, verified against each. */
  AUTH_JWT_SECRET: secretList.optional(),
  /** An identity provider's JWKS (RS256/ES256 keys), fetched, cached and refetched on an unknown `kid`. */
  AUTH_JWKS_URL: url(['http:', 'https:']).optional(),
  /** Least time between two JWKS fetches triggered by an unknown `kid` (bounds what forged kids cost the provider). */
  AUTH_JWKS_COOLDOWN_MS: int(0, 3_600_000).default(30_000),
  /** Required `iss` and `aud` of every token, when set. */
  AUTH_ISSUER: z.string().trim().min(1).max(1024).optional(),
  AUTH_AUDIENCE: z.string().trim().min(1).max(1024).optional(),
  /** Bearer token `/metrics` asks for; unset: /metrics is open (keep it on a private network). */
  METRICS_TOKEN: z.string().trim().min(16, 'must be at least 16 characters').max(1024).optional(),
  MAX_MESSAGE_BYTES: int(16, 16 * 1024 * 1024).default(65536),
  WS_PING_INTERVAL_MS: int(1000, 600_000).default(25_000),
  WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  WS_MAX_SUBSCRIPTIONS: int(1, 100_000).default(1000),
  SSE_HEARTBEAT_MS: int(1000, 600_000).default(15_000),
  HUB_SWEEP_INTERVAL_MS: int(100, 600_000).default(5000),
  /** How long a channel stays followed after its last local subscriber left (long polls come right back). */
  HUB_LINGER_MS: int(0, 600_000).default(30_000),
  /** Per followed channel: recent messages kept in memory for resumes and polls (count, and characters). */
  HUB_RECENT_MAX_MESSAGES: int(0, 100_000).default(100),
  HUB_RECENT_MAX_BYTES: int(0, 64 * 1024 * 1024).default(256 * 1024),
  HISTORY_MAX_PER_CHANNEL: int(0, 1_000_000_000).default(0),
  HISTORY_TTL_SECONDS: int(0, 10 * 365 * 24 * 3600).default(0),
  HISTORY_PRUNE_EVERY_MS: int(1000, 24 * 3600 * 1000).default(60_000),
  /** Publish statements running at once per instance; publishes beyond them are committed together (group commit). */
  PUBLISH_CONCURRENCY: int(1, 64).default(2),
  /** Publishes waiting for a statement per instance (count, and serialised characters) before 503s. */
  PUBLISH_QUEUE_MAX: int(1, 10_000_000).default(10_000),
  PUBLISH_QUEUE_MAX_BYTES: int(1024, 4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Publishes a second per client (token `sub`, or address in open mode), summed over every instance and transport; 0 = off. */
  RATE_LIMIT_PUBLISH_PER_SEC: int(0, 1_000_000).default(50),
  /** Publishes a client may send at once before the rate applies; unset = twice RATE_LIMIT_PUBLISH_PER_SEC. */
  RATE_LIMIT_PUBLISH_BURST: int(1, 10_000_000).optional(),
  /** Job submits a minute per client over every instance, in bursts of as many; 0 = off. */
  RATE_LIMIT_JOBS_PER_MIN: int(0, 1_000_000).default(60),
  /** Open WebSockets per client (token `sub`, or address in open mode) over every instance; 0 = off. */
  WS_MAX_CONNECTIONS_PER_KEY: int(0, 10_000_000).default(50),
  /** Open WebSockets per client address over every instance (NATs put many users behind one); 0 = off. */
  WS_MAX_CONNECTIONS_PER_IP: int(0, 10_000_000).default(500),
  /** A limit check waits this long for Redis, then the instance decides alone (its per-instance limit). */
  RATE_LIMIT_REDIS_TIMEOUT_MS: int(10, 60_000).default(500),
  /** A killed instance's WebSockets stop counting against the caps this long after its last heartbeat (every third of it). */
  WS_CONNECTION_LEASE_MS: int(1000, 600_000).default(30_000),
  /** Proxies whose X-Forwarded-For is believed; by default only one on this machine (a peer on a shared network could forge it). */
  TRUST_PROXY: z.string().trim().default('loopback'),
  /** Comma list of origins allowed by CORS, or `*`; empty disables CORS. */
  CORS_ORIGINS: z.string().trim().default(''),
  /** Every instance publishes its live counts to `sys:stats` this often (the dashboard at `/` shows them); 0 turns it off. */
  STATS_INTERVAL_MS: int(0, 3_600_000).default(2000),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  WORKER_CONCURRENCY: int(1, 1000).default(10),
  JOB_STALLED_INTERVAL_MS: int(1000, 600_000).default(30_000),
  JOB_LOCK_DURATION_MS: int(1000, 600_000).default(30_000),
  JOB_RECONCILE_INTERVAL_MS: int(500, 600_000).default(5000),
  /** Bound on one BullMQ call from a request (enqueue, remove): a Redis outage never hangs a submit. */
  JOB_ENQUEUE_TIMEOUT_MS: int(50, 60_000).default(2000),
  /** Finished job rows older than this are deleted by a cluster-wide scheduler; 0 keeps them forever. */
  JOB_RETENTION_SECONDS: int(0, 10 * 365 * 24 * 3600).default(0),
  /** The BullMQ board at /admin/queues (api role); unset means on except in production. */
  BULL_BOARD_ENABLED: bool.optional(),
  /** Tests only (ignored in production): compiled module files to load too, e.g. the test job types. */
  TEST_MODULES: z.string().trim().optional(),
  // WebSocket upgrades (src/channels/ws):
  /** Comma list of origins (`https://app.example.com`) whose pages may open /v1/ws, or `*`; empty allows any (a warning in production). Clients that send no Origin (non-browsers) are always allowed. */
  WS_ALLOWED_ORIGINS: z.string().trim().default(''),
});

/**
 * The authentication mode follows from the keys unless AUTH_MODE says it; a
 * production process never runs open by accident (a forgotten secret would
 * open every channel to the internet).
 */
export const configSchema = configFields
  .superRefine((c, ctx) => {
    if (c.REDIS_URL && c.REDIS_CLUSTER_NODES) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: 'and REDIS_URL are exclusive: set one',
      });
    }
    // A brace in the prefix would be the hash tag of every key and channel,
    // putting all of them in one slot: the cluster would not spread anything.
    if (c.REDIS_CLUSTER_NODES && /[{}]/.test(c.REDIS_KEY_PREFIX)) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_KEY_PREFIX'],
        message: 'must not contain { or } with REDIS_CLUSTER_NODES (Squall adds hash tags itself)',
      });
    }
    const keyed = Boolean(c.AUTH_JWT_SECRET || c.AUTH_JWKS_URL);
    if (c.AUTH_MODE === 'token' && !keyed) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_MODE'],
        message: 'token needs AUTH_JWT_SECRET or AUTH_JWKS_URL',
      });
    }
    if (c.AUTH_MODE === undefined && !keyed && c.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message:
          'or AUTH_JWKS_URL is required when NODE_ENV=production (set AUTH_MODE=open to run without authentication on purpose)',
      });
    }
  })
  .transform((c) => ({
    ...c,
    AUTH_MODE: c.AUTH_MODE ?? (c.AUTH_JWT_SECRET || c.AUTH_JWKS_URL ? 'token' : 'open'),
  }));

export type AppConfig = z.infer<typeof configSchema> & { ROLE: Role[]; INSTANCE_ID: string };

/** Thrown for an invalid environment; its message is one line, fit for a terminal. */
export class ConfigError extends Error {}

export function parseConfig(env: Record<string, string | undefined>): AppConfig {
  // An empty variable means unset, as shells and compose files tend to produce them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(present);
  // Checked here rather than in the schema, so it is reported alongside the other missing variables.
  const redisMissing = !present.REDIS_URL && !present.REDIS_CLUSTER_NODES;
  if (result.success && !redisMissing) {
    const config = result.data as AppConfig;
    // Unique on one host (one port each) and across hosts (hostname) without any setting.
    config.INSTANCE_ID ??= `${hostname()}:${config.PORT}`;
    return config;
  }
  const issues = result.success ? [] : result.error.issues;
  const problems = issues.map((issue) => {
    const name = String(issue.path[0] ?? 'config');
    const raw = env[name];
    const message = issue.code === 'invalid_type' && raw === undefined ? 'is required' : issue.message;
    return raw === undefined || raw === '' || SECRET_VARIABLES.has(name)
      ? `${name} ${message}`
      : `${name} ${message} (got ${JSON.stringify(raw)})`;
  });
  if (redisMissing) problems.push('REDIS_URL is required (or REDIS_CLUSTER_NODES for a Redis Cluster)');
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

export const hasRole = (config: AppConfig, role: Role): boolean => config.ROLE.includes(role);
