/**
 * Durable publish against its floor: the statement Squall's publish commits
 * (src/channels/group-commit.ts, `publishOne`: bump the channel's counter and
 * insert the message in one round trip), sent straight from C `pg` clients,
 * each awaiting its answer before the next, against C REST publishers and C
 * WebSocket publishers doing the same through Squall. Two channel layouts:
 * spread over `channels` channels, and all on one hot channel (the row lock
 * serialises it). The ratio says what the layers above the INSERT cost (or,
 * when Squall's group commit batches, save).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Histogram } from '../lib/hist.mjs';
import { split } from '../lib/loadgens.mjs';

// Kept identical to GroupCommit.publishOne (message-rows.ts ROW_COLUMNS included).
const INSERT = `WITH ch AS (
   INSERT INTO channels AS c (name, last_seq) VALUES ($1, 1)
   ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + 1
   RETURNING last_seq
 )
 INSERT INTO messages (channel, seq, id, data, idempotency_key)
 SELECT $1, ch.last_seq, $2, $3::json, $4 FROM ch
 RETURNING seq::text AS seq_text, id, data::text AS data_text,
   to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS published_at`;

const pad = 'x'.repeat(64);
const channelOf = (names, i) => names[i % names.length];

/** C loops, each running `once(i, n)` until `durationMs` passes; returns rate, latency, errors. */
async function loops(C, durationMs, once) {
  const hist = new Histogram();
  let ok = 0;
  let failed = 0;
  const errors = [];
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: C }, async (_, i) => {
      let n = 0;
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await once(i, n++);
          ok++;
          hist.record(performance.now() - t);
        } catch (err) {
          failed++;
          if (errors.length < 3) errors.push(String(err.message ?? err).slice(0, 300));
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { ok, failed, errors, perSec: ok / seconds, latency: hist.summary() };
}

async function sql(ctx, names, C, durationMs) {
  const clients = [];
  try {
    for (let i = 0; i < C; i++) {
      const c = new pg.Client({ connectionString: ctx.infra.databaseUrl });
      c.on('error', () => undefined); // Postgres stopping at the end
      await c.connect();
      clients.push(c);
    }
    return await loops(C, durationMs, async (i, n) => {
      const { rows } = await clients[i].query(INSERT, [
        channelOf(names, i),
        randomUUID(),
        JSON.stringify({ n, pad }),
        null,
      ]);
      if (rows.length !== 1) throw new Error(`INSERT returned ${rows.length} rows`);
    });
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * C publishers over the first 2 load generators, connection j publishing to
 * channels[j], each awaiting its answer before the next; REST and WebSocket
 * differ only in the loop the load generator runs and what it reports.
 */
async function loadGenPublishers(ctx, names, C, durationMs, loop) {
  const gens = ctx.gens.slice(0, 2);
  const parts = split(C, gens.length);
  const results = await Promise.all(
    gens.map((g, gi) => {
      const offset = parts.slice(0, gi).reduce((s, n) => s + n, 0);
      return g.call(loop.cmd, {
        ...loop.args,
        channels: Array.from({ length: parts[gi] }, (_, j) => channelOf(names, offset + j)),
        connections: parts[gi],
        durationMs,
        addrs: g.addrs,
      });
    }),
  );
  const hist = new Histogram();
  for (const r of results) hist.merge(loop.latency(r));
  const ok = results.reduce((s, r) => s + loop.ok(r), 0);
  const seconds = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
  return {
    ok,
    failed: results.reduce((s, r) => s + r.failed, 0),
    errors: results.flatMap((r) => r.errors).map((e) => (typeof e === 'string' ? e : JSON.stringify(e))),
    perSec: ok / seconds,
    latency: hist.summary(),
  };
}

/** POST /v1/channels/:ch/messages over keep-alive node:http (loadgen restPublishLoop). */
const rest = (ctx, names, C, durationMs) =>
  loadGenPublishers(ctx, names, C, durationMs, {
    cmd: 'restPublishLoop',
    args: { base: ctx.squall[0].url },
    latency: (r) => r.answers,
    ok: (r) => r.ok,
  });

/** WebSocket publish → ack (loadgen publishLoop). */
const ws = (ctx, names, C, durationMs) =>
  loadGenPublishers(ctx, names, C, durationMs, {
    cmd: 'publishLoop',
    args: { url: ctx.squall[0].wsUrl },
    latency: (r) => r.ack,
    ok: (r) => r.acked,
  });

export async function durable(ctx) {
  const { connections: C, channels, durationMs, warmupMs } = ctx.cfg.durable;
  const out = {};
  for (const layout of ['spread', 'hot']) {
    const names = (sys) =>
      layout === 'hot'
        ? [`bench.${ctx.runId}.dur.${sys}.hot`]
        : Array.from({ length: channels }, (_, k) => `bench.${ctx.runId}.dur.${sys}.${k}`);
    out[layout] = {};
    for (const [sys, run] of [
      ['sql', sql],
      ['rest', rest],
      ['ws', ws],
    ]) {
      await run(ctx, names(`${sys}warm`), C, warmupMs);
      out[layout][sys] = await run(ctx, names(sys), C, durationMs);
    }
    const x = out[layout];
    ctx.log(
      `durable ${layout}: sql ${x.sql.perSec.toFixed(0)}/s, rest ${x.rest.perSec.toFixed(0)}/s, ws ${x.ws.perSec.toFixed(0)}/s`,
    );
  }
  // Rows in the shared table: "squall" = the path through Squall, "baseline" = direct SQL.
  const rows = [];
  for (const [layout, label] of [
    ['spread', `${channels} channels`],
    ['hot', 'one hot channel'],
  ]) {
    const x = out[layout];
    for (const via of ['rest', 'ws']) {
      rows.push(
        {
          metric: `[${label}] ${via.toUpperCase()} vs SQL: committed/s`,
          squall: x[via].perSec,
          baseline: x.sql.perSec,
          better: 'higher',
        },
        {
          metric: `[${label}] ${via.toUpperCase()} vs SQL: latency p50 (ms)`,
          squall: x[via].latency.p50,
          baseline: x.sql.latency.p50,
          better: 'lower',
        },
        {
          metric: `[${label}] ${via.toUpperCase()} vs SQL: latency p99 (ms)`,
          squall: x[via].latency.p99,
          baseline: x.sql.latency.p99,
          better: 'lower',
        },
      );
    }
    rows.push({
      metric: `[${label}] errors (REST/WS vs SQL)`,
      squall: `${x.rest.failed}/${x.ws.failed}`,
      baseline: x.sql.failed,
      ratio: false,
    });
  }
  const notes = [
    `${C} concurrent publishers per path, each awaiting its answer before the next, for ${durationMs / 1000} s after a ${warmupMs / 1000} s warm-up; one Squall instance (REST and WS each from the same 2 load generators, REST over keep-alive node:http).`,
    "Baseline = the one-message INSERT of src/channels/group-commit.ts sent directly by C `pg` clients (one connection each): what a durable, gap-free publish costs in Postgres alone. Squall's group commit may batch concurrent publishes into one statement, so a ratio above 1 is possible.",
    ctx.infra.started.some((s) => s.startsWith('postgres'))
      ? "The bench's embedded Postgres runs with fsync=off: commit flushes are not included."
      : 'Postgres came from DATABASE_URL: its durability settings are whatever that server uses.',
  ];
  return { rows, notes, raw: out };
}
