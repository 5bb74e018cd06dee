/** Plain-text tables for the terminal: metric | squall | baseline | ratio (squall / baseline). */

export function fmt(v, digits) {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'n/a' : String(v);
  const d = digits ?? (Math.abs(v) >= 1000 ? 0 : Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 10 ? 2 : 3);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function ratio(squall, baseline) {
  if (typeof squall !== 'number' || typeof baseline !== 'number') return NaN;
  if (!Number.isFinite(squall) || !Number.isFinite(baseline) || baseline === 0) return NaN;
  return squall / baseline;
}

/**
 * rows: { metric, squall, baseline, better: 'lower'|'higher'|'', ratio?: false, digits? }.
 * Returns the rows with the computed ratio, for the JSON results.
 */
export function printTable(title, rows, notes = [], { against = 'baseline' } = {}) {
  const computed = rows.map((r) => ({
    ...r,
    ratio: r.ratio === false ? null : ratio(r.squall, r.baseline),
  }));
  const cells = computed.map((r) => [
    r.metric,
    fmt(r.squall, r.digits),
    fmt(r.baseline, r.digits),
    r.ratio === null ? '' : Number.isFinite(r.ratio) ? `${fmt(r.ratio, 2)}x` : 'n/a',
    r.better ?? '',
  ]);
  const head = ['metric', 'squall', against, 'ratio', 'better'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  const out = [];
  out.push('');
  out.push(`== ${title}`);
  out.push(line(head));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) out.push(line(c));
  for (const n of notes) out.push(`   * ${n}`);
  console.log(out.join('\n'));
  return computed;
}

/** The same table as GitHub markdown, for docs. */
export function markdownTable(rows) {
  const out = [
    '| metric | squall | baseline | ratio (squall/baseline) | better |',
    '|---|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const rt = r.ratio === null ? '' : Number.isFinite(r.ratio) ? `${fmt(r.ratio, 2)}x` : 'n/a';
    out.push(
      `| ${r.metric} | ${fmt(r.squall, r.digits)} | ${fmt(r.baseline, r.digits)} | ${rt} | ${r.better ?? ''} |`,
    );
  }
  return out.join('\n');
}
