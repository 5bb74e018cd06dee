/**
 * Issue 11's targets, declared per scenario as checks on the scenario's table
 * (a row's ratio squall/baseline, or Squall's own value for the absolute
 * ones) or on its raw results. The run prints them all in one "Targets"
 * table and writes them into the JSON; the charts draw the ratio limits.
 */
import { fmt } from './report.mjs';

const ratioAtLeast = (metric, limit, target) => ({ metric, of: 'ratio', op: '>=', limit, target });
const ratioAtMost = (metric, limit, target) => ({ metric, of: 'ratio', op: '<=', limit, target });

const fanoutSpecs = (c) =>
  c.sizes.flatMap((K) => [
    ratioAtLeast(
      `[${K} subscribers] highest step passed (p99 < ${c.p99LimitMs} ms): deliveries/s offered`,
      1.0,
      '≥ 1.0× bare ws',
    ),
    ratioAtMost(`[${K} subscribers] p99 at squall's best step (ms)`, 2.0, '≤ 2× bare ws at that step'),
  ]);

/** key: the run's key (idle-15000 runs the `idle` scenario); returns the specs for it. */
const SPECS = {
  fanout: (cfg) => fanoutSpecs(cfg.fanout),
  fanout2: (cfg) => fanoutSpecs(cfg.fanout2),
  chat: () => [
    ratioAtLeast('acked publishes/s', 0.8, '≥ 0.8× bare ws (deliveries/s: 5 per publish on both sides)'),
  ],
  durable: (cfg) =>
    [`${cfg.durable.channels} channels`, 'one hot channel'].flatMap((label) =>
      ['REST', 'WS'].map((via) =>
        ratioAtLeast(`[${label}] ${via} vs SQL: committed/s`, 1.0, '≥ 1.0× direct pg loop'),
      ),
    ),
  jobs: () => [ratioAtLeast('jobs/s, submit → all completed', 0.3, '≥ 0.3× bare BullMQ')],
  longpoll: (cfg) => [
    { metric: 'RSS per pending poll (KiB)', of: 'squall', op: '<=', limit: 12, target: '≤ 12 KiB' },
    ...Array.from({ length: cfg.longpoll.rounds }, (_, r) =>
      ratioAtMost(`round ${r + 1}: wake p99 (ms)`, 1.5, '≤ 1.5× bare http'),
    ),
    {
      metric: 'errors (non-200, empty answers, failed publishes)',
      of: 'squall',
      op: '<=',
      limit: 0,
      target: '0',
    },
    {
      metric: 'RSS after answered, clients gone / before',
      value: (raw) => raw.squall.rssClosedKb / raw.squall.rssBeforeKb,
      op: '<=',
      limit: 1.25,
      target: '≤ 1.25× the RSS before the first round ("back near its start")',
    },
  ],
  idle: (cfg, run) => [
    ratioAtMost('RSS per connection (KiB)', 1.3, '≤ 1.3× bare ws'),
    ...(run.size === Math.max(...cfg.idle.sizes)
      ? [
          {
            metric: `one instance holds ${run.size} (subscribed and still open)`,
            value: (raw) => Math.min(raw.squall.opened, raw.squall.stillOpen),
            op: '>=',
            limit: run.size,
            target: `${run.size} of ${run.size}`,
          },
        ]
      : []),
  ],
};

const check = (v, op, limit) =>
  Number.isFinite(v) && (op === '>=' ? v >= limit : op === '<=' ? v <= limit : v === limit);

/** The specs of one run (for the chart), empty when the scenario has no target in issue 11. */
export function specsFor(run, cfg) {
  return SPECS[run.name]?.(cfg, run) ?? [];
}

/** Evaluates one run's targets against its computed rows and raw results. */
export function evaluateTargets(run, cfg, rows, raw) {
  return specsFor(run, cfg).map((spec) => {
    let value;
    if (spec.value) {
      try {
        value = spec.value(raw);
      } catch {
        value = NaN;
      }
    } else {
      const row = rows.find((r) => r.metric === spec.metric);
      value = row ? (spec.of === 'ratio' ? row.ratio : row.squall) : NaN;
    }
    const shown = !Number.isFinite(value)
      ? 'n/a'
      : spec.of === 'ratio' || spec.metric.endsWith('/ before')
        ? `${fmt(value, 3)}x`
        : fmt(value, Number.isInteger(value) ? 0 : undefined);
    return {
      scenario: run.key,
      metric: spec.metric,
      value: Number.isFinite(value) ? value : null,
      shown,
      target: spec.target,
      limit: spec.of === 'ratio' ? spec.limit : undefined,
      // n/a: nothing to compare (e.g. no fan-out step passed on either side); counted as not met.
      met: check(value, spec.op, spec.limit),
      result: !Number.isFinite(value) ? 'n/a' : check(value, spec.op, spec.limit) ? 'met' : 'MISSED',
    };
  });
}

/** The final table on stdout. */
export function printTargets(list, { note } = {}) {
  const head = ['scenario', 'metric', 'ratio / value', 'target', 'result'];
  const cells = list.map((t) => [t.scenario, t.metric, t.shown, t.target, t.result]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((s, i) => (i === 2 ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join('  ');
  const out = ['', '== Targets (issue 11)'];
  if (note) out.push(`   ${note}`);
  out.push(line(head), widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) out.push(line(c));
  const met = list.filter((t) => t.met).length;
  out.push(`   ${met} of ${list.length} met`);
  console.log(out.join('\n'));
}

/** The same as GitHub markdown, for docs/benchmarks.md. */
export function targetsMarkdown(list) {
  return [
    '| scenario | metric | ratio / value | target | result |',
    '|---|---|---:|---|---|',
    ...list.map(
      (t) =>
        `| ${t.scenario} | ${t.metric} | ${t.shown} | ${t.target} | ${t.met ? 'met' : t.result === 'n/a' ? 'n/a' : '**missed**'} |`,
    ),
  ].join('\n');
}
