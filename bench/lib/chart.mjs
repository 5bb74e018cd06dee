/**
 * One SVG chart per scenario, written by hand (no dependency): a horizontal
 * bar per metric showing ratio = squall / baseline on a log scale, with the
 * baseline at 1×. Green when the ratio is on the better side of 1, orange
 * when not, grey for metrics without a direction; a target (when the metric
 * has one) is drawn as a dashed tick. Metrics in different units share one
 * chart because only their ratios are drawn.
 */

const esc = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

const MIN = 1 / 16;
const MAX = 16;

/**
 * rows: printTable's computed rows ({metric, ratio, better}); targets: [{metric, limit}] keyed by
 * the row's metric name (optional). Returns the SVG text, or null when no row has a ratio.
 */
export function ratioChart(title, rows, { targets = [], subtitle = '' } = {}) {
  const bars = rows.filter((r) => typeof r.ratio === 'number' && Number.isFinite(r.ratio) && r.ratio > 0);
  if (!bars.length) return null;
  // Room for the longest label (about 6.6 px per character at 12 px).
  const labelW = Math.min(
    600,
    Math.max(200, Math.max(...bars.map((r) => r.metric.trim().length)) * 6.6 + 16),
  );
  const plotW = 420;
  const rowH = 24;
  const top = 58;
  const width = labelW + plotW + 90;
  const height = top + bars.length * rowH + 34;
  const x = (v) => {
    const c = Math.min(MAX, Math.max(MIN, v));
    return labelW + ((Math.log(c) - Math.log(MIN)) / (Math.log(MAX) - Math.log(MIN))) * plotW;
  };
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555">${esc(subtitle || 'ratio = squall / baseline (log scale; 1× = baseline)')}</text>`,
  );
  for (const tick of [1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8]) {
    const tx = x(tick).toFixed(1);
    const label = tick < 1 ? `1/${1 / tick}×` : `${tick}×`;
    out.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + bars.length * rowH}" stroke="${tick === 1 ? '#333' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${label}</text>`,
    );
  }
  bars.forEach((r, i) => {
    const y = top + i * rowH;
    const good = r.better === 'higher' ? r.ratio >= 1 : r.better === 'lower' ? r.ratio <= 1 : null;
    const color = good === null ? '#9e9e9e' : good ? '#2e7d32' : '#ef6c00';
    const x0 = x(1);
    const x1 = x(r.ratio);
    const left = Math.min(x0, x1);
    const w = Math.max(1, Math.abs(x1 - x0));
    out.push(
      `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.metric.trim())}</text>`,
      `<rect x="${left.toFixed(1)}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${color}"/>`,
      `<text x="${(Math.max(x0, x1) + 6).toFixed(1)}" y="${y + 16}" fill="#333">${r.ratio >= 100 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}×</text>`,
    );
    const t = targets.find((tg) => tg.metric === r.metric);
    if (t && Number.isFinite(t.limit)) {
      const tx = x(t.limit).toFixed(1);
      out.push(
        `<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + rowH - 2}" stroke="#1565c0" stroke-width="2" stroke-dasharray="3,2"/>`,
      );
    }
  });
  out.push(
    `<text x="${width - 10}" y="${height - 6}" text-anchor="end" fill="#1565c0">dashed: issue 11 target</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
