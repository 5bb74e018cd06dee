import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { query } from '../support/database.js';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { isolatedEnv, waitForState } from '../support/jobs.js';
import { SseClient } from '../support/sse-client.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient } from '../support/ws-client.js';
import { scrape } from '../support/metrics.js';

const DASHBOARD = join(process.cwd(), 'docker', 'grafana', 'dashboards', 'squall.json');

// All three roles in one process (api, gateway, worker), on a database and
// Redis key prefix of its own: every squall_* metric has a source here.
let app: Instance;
let databaseUrl: string;
const clients: TestClient[] = [];
const streams: SseClient[] = [];
beforeAll(async () => {
  const env = await isolatedEnv();
  databaseUrl = env.DATABASE_URL;
  app = await startInstance({ ...env, JOB_RECONCILE_INTERVAL_MS: '500' });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  streams.forEach((s) => s.close());
  await stopAllInstances();
});

/** Sum of the samples of `name` whose labels include `labels`. */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const { samples } = await scrape(app);
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const waitForValue = (name: string, labels: Record<string, string>, ok: (v: number) => boolean) =>
  waitFor(async () => ok(await value(name, labels)), { what: `${name} ${JSON.stringify(labels)}` });

// PromQL words that are not metric names.
const PROMQL = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/**
 * The metric selectors of a PromQL expression: each metric name with the
 * label values it requires (`=` matchers on literal values).
 */
function selectors(expr: string): { name: string; labels: Record<string, string> }[] {
  const found: { name: string; labels: Record<string, string> }[] = [];
  // Grouping clauses name labels, not metrics; ranges and strings hold no names.
  const cleaned = expr.replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  const re = /([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (const m of cleaned.matchAll(re)) {
    const [, name, braces, call] = m;
    if (call || PROMQL.has(name) || /^\d/.test(name)) continue;
    if (m.index > 0 && /["=~!]$/.test(cleaned.slice(0, m.index).trimEnd())) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (braces ?? '').matchAll(/(\w+)\s*=\s*"([^"$]*)"/g)) labels[k] = v;
    found.push({ name, labels });
  }
  return found;
}

describe('/metrics', () => {
  it('counts connections by transport: WebSockets, SSE streams and pending long polls', async () => {
    const channel = uniqueChannel('metrics');
    expect(await value('squall_connections', { transport: 'long_poll' })).toBe(0);
    const ws = await TestClient.connect(app.wsUrl);
    clients.push(ws);
    await ws.subscribe(channel);
    const sse = await SseClient.open(`${app.url}/v1/channels/${channel}/stream`);
    streams.push(sse);
    const poll = get(app.url, `/v1/channels/${channel}/poll?timeout=30`);
    await waitForValue('squall_connections', { transport: 'long_poll' }, (v) => v === 1);
    expect(await value('squall_connections', { transport: 'ws' })).toBe(1);
    expect(await value('squall_connections', { transport: 'sse' })).toBe(1);
    expect(await value('squall_hub_subscribers')).toBe(3);

    // One publish answers the poll and reaches the other two.
    await post(app.url, `/v1/channels/${channel}/messages`, { data: 'x' });
    expect((await poll).body.messages).toHaveLength(1);
    await ws.waitForMessages(channel, 1);
    await sse.waitForMessages(1);
    await waitForValue('squall_connections', { transport: 'long_poll' }, (v) => v === 0);

    ws.close();
    sse.close();
    await waitForValue('squall_connections', { transport: 'ws' }, (v) => v === 0);
    await waitForValue('squall_connections', { transport: 'sse' }, (v) => v === 0);
  });

  it('observes the delivery lag of live messages only, not of history replays', async () => {
    const channel = uniqueChannel('lag');
    for (let i = 0; i < 5; i++) await post(app.url, `/v1/channels/${channel}/messages`, { data: i });
    const before = await value('squall_delivery_lag_seconds_count');
    const ws = await TestClient.connect(app.wsUrl);
    clients.push(ws);
    await ws.subscribe(channel, 0); // replays 5 from history: not observed
    await ws.waitForMessages(channel, 5);
    for (let i = 0; i < 3; i++) await post(app.url, `/v1/channels/${channel}/messages`, { data: i });
    await ws.waitForMessages(channel, 8);
    expect((await value('squall_delivery_lag_seconds_count')) - before).toBe(3);
    const { samples } = await scrape(app);
    // Commit to hand-off on one idle machine: well under a second.
    const underOne = samples.find(
      (s) => s.name === 'squall_delivery_lag_seconds_bucket' && s.labels.le === '1',
    );
    const total = samples.find((s) => s.name === 'squall_delivery_lag_seconds_count');
    expect(underOne!.value).toBe(total!.value);
    ws.close();
  });

  it('counts job attempts and durations by type and outcome', async () => {
    const submitted = await post(app.url, '/v1/jobs', { type: 'test.sleep', payload: { ms: 50, steps: 1 } });
    expect(submitted.status).toBe(202);
    await waitForState(app, submitted.body.id, 'completed');
    const labels = { type: 'test.sleep', outcome: 'completed' };
    await waitForValue('squall_job_attempts_total', labels, (v) => v === 1);
    expect(await value('squall_job_duration_seconds_count', labels)).toBe(1);
    expect(await value('squall_job_duration_seconds_sum', labels)).toBeGreaterThanOrEqual(0.05);
    expect(await value('squall_jobs_submitted_total', { type: 'test.sleep' })).toBe(1);
  });

  it('counts Redis errors and reconnects when a connection is killed', async () => {
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const before = await value('squall_redis_reconnects_total', { connection: 'command' });
      const list = (await redis.client('LIST')) as string;
      const ids = list
        .split('\n')
        .filter((l) => / name=squall:command /.test(l))
        .map((l) => /\bid=(\d+)/.exec(l)![1]);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) await redis.client('KILL', 'ID', id);
      await waitForValue('squall_redis_reconnects_total', { connection: 'command' }, (v) => v > before);
      await waitForValue('squall_redis_connected', { connection: 'command' }, (v) => v === 1);
    } finally {
      redis.disconnect();
    }
  });

  it('counts Postgres connections lost and reopened', async () => {
    const lostBefore = await value('squall_postgres_errors_total', { kind: 'lost' });
    const openedBefore = await value('squall_postgres_connections_opened_total');
    const name = new URL(databaseUrl).pathname.slice(1);
    const killed = await query<{ pid: number }>(
      databaseUrl,
      `SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity
        WHERE datname = $1 AND application_name = 'squall' AND state = 'idle'`,
      [name],
    );
    expect(killed.length).toBeGreaterThan(0);
    await waitForValue('squall_postgres_errors_total', { kind: 'lost' }, (v) => v > lostBefore);
    // The next request opens a fresh connection.
    expect((await get(app.url, `/v1/channels/${uniqueChannel('pg')}`)).status).toBe(200);
    expect(await value('squall_postgres_connections_opened_total')).toBeGreaterThan(openedBefore);
  });

  it('counts HTTP requests by route pattern and status, and times them', async () => {
    const route = '/v1/channels/:channel/messages';
    const created = { method: 'POST', route, status: '201' };
    const before = await value('squall_http_requests_total', created);
    const timedBefore = await value('squall_http_request_duration_seconds_count', { method: 'POST', route });
    await post(app.url, `/v1/channels/${uniqueChannel('http')}/messages`, { data: 1 });
    await post(app.url, `/v1/channels/${uniqueChannel('http')}/messages`, { data: 1 });
    expect(await get(app.url, '/no/such/route')).toMatchObject({ status: 404 });
    expect(await value('squall_http_requests_total', created)).toBe(before + 2);
    expect(await value('squall_http_request_duration_seconds_count', { method: 'POST', route })).toBe(
      timedBefore + 2,
    );
    expect(await value('squall_http_requests_total', { route: 'unmatched', status: '404' })).toBeGreaterThan(
      0,
    );
    // Concrete URLs never become labels.
    const { samples } = await scrape(app);
    expect(samples.filter((s) => s.labels.route?.includes('http.'))).toEqual([]);
  });

  it('has every metric the Grafana dashboard queries, with the label values it selects', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const { families, samples } = await scrape(app);
    // `up` is Prometheus's own series for a scrape target, not the app's.
    const fromPrometheus = new Set(['up']);
    const familyOf = (name: string) => {
      if (families.has(name)) return name;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return families.get(base) === 'histogram' || families.get(base) === 'summary' ? base : undefined;
    };
    const problems: string[] = [];
    let queried = 0;
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets ?? []) {
        for (const { name, labels } of selectors(expr)) {
          if (fromPrometheus.has(name)) continue;
          queried++;
          if (!familyOf(name)) {
            problems.push(`${panel.title}: ${name} is not in /metrics`);
            continue;
          }
          const match = samples.some(
            (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
          );
          if (!match && Object.keys(labels).length) {
            problems.push(`${panel.title}: no ${name} series with ${JSON.stringify(labels)}`);
          }
        }
      }
    }
    expect(queried).toBeGreaterThan(30);
    expect(problems).toEqual([]);
  });

  it('reads metric names out of PromQL, so the check above can fail', () => {
    expect(
      selectors(
        'histogram_quantile(0.95, sum by (le, type) (rate(squall_job_duration_seconds_bucket{outcome="completed",instance=~"$instance"}[$__rate_interval]))) / on (x) squall_b',
      ),
    ).toEqual([
      { name: 'squall_job_duration_seconds_bucket', labels: { outcome: 'completed' } },
      { name: 'squall_b', labels: {} },
    ]);
  });
});
