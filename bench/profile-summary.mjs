/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as written by BENCH_CPU_PROF or
 * `node --cpu-prof`): self time by where the code lives (a package under
 * node_modules, a folder of Squall's dist/, Node's internals, GC, idle), so a
 * missed target's profile reads as "where the CPU went" in a few lines.
 *
 *   node bench/profile-summary.mjs <dir or files...> [--top=15] [--functions=10] [--skip=5]
 *
 * --skip=S leaves out the first S seconds of each profile (start-up: module
 * loading, migrations), so the summary is of the load the bench put on it.
 *
 * Percentages are of the busy time (idle excluded). Paths are shown relative
 * to the repository, as any clone has them.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const opt = (name, d) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? d);
const inputs = args.filter((a) => !a.startsWith('--'));
if (inputs.length === 0) {
  console.error(
    'usage: node bench/profile-summary.mjs <dir or .cpuprofile files> [--top=15] [--functions=10]',
  );
  process.exit(2);
}
const files = inputs.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(p, f))
    : [p],
);

/** Where a frame's code lives: "pkg <name>", "squall <dist folder>", "node:<module>", or a V8 pseudo-frame. */
function area(frame) {
  const url = frame.url ?? '';
  if (!url) {
    if (frame.functionName === '(garbage collector)') return 'GC';
    if (frame.functionName === '(idle)') return 'idle';
    if (frame.functionName === '(program)') return 'V8/native (program)';
    return `native: ${frame.functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(\w+).*/, 'node internal: $1');
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split('/');
    return `pkg ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const rel = relative(ROOT, path);
  const m = rel.match(/^(?:\.squall\/bench-dist|dist)\/(.+)\/[^/]+$/);
  return m ? `squall ${m[1]}` : `squall ${rel}`;
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // samples[i] ran for timeDeltas[i] µs (the delta before the sample), attributed to its node's own code.
  const skipUs = opt('skip', 0) * 1e6;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at >= skipUs) self.set(id, (self.get(id) ?? 0) + dt);
  });
  const areas = new Map();
  const fns = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id).callFrame;
    const a = area(frame);
    if (a === 'idle') {
      idle += us;
      continue;
    }
    busy += us;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} (${a})`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const pct = (us) => `${((us * 100) / busy).toFixed(1).padStart(5)} %`;
  const top = (m, n) => [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, n);
  console.log(
    `\n${relative(ROOT, resolve(file))}: ${(busy / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle`,
  );
  console.log('  self time by area:');
  for (const [a, us] of top(areas, opt('top', 15))) console.log(`  ${pct(us)}  ${a}`);
  console.log('  top functions (self):');
  for (const [f, us] of top(fns, opt('functions', 10))) console.log(`  ${pct(us)}  ${f}`);
}
