#!/usr/bin/env node
/**
 * Jobs end to end against bare BullMQ, on its own (the same measurement is the
 * `jobs` scenario of bench/run.mjs; the code lives in bench/scenarios/jobs.mjs).
 *
 *   npm run build && npm run build:dev && npm run build:testing && node bench/jobs.mjs [--jobs=3000] [--clients=32] [--steps=10]
 *   node bench/jobs.mjs --smoke   # CI: 40 jobs, correctness only (every job completed, clean exits, no warnings)
 *   node bench/jobs.mjs --monitor # also count the commands clients send to Redis (slows Redis)
 *   node bench/jobs.mjs --submit-only   # no worker: what the submit path alone sustains
 *   BENCH_CPU_PROF=<dir> node bench/jobs.mjs   # --cpu-prof of the api and worker processes
 *
 * Prints one JSON line with the rates, CPU per job and statements per job.
 */
import process from 'node:process';
import { killAllSync } from './lib/procs.mjs';
import { snapshotDist, startInfra } from './lib/stack.mjs';
import { bare, configure, squall, summarize } from './scenarios/jobs.mjs';

const arg = (name, dflt) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.split('=')[1]) : dflt;
};
const SMOKE = process.argv.includes('--smoke');
configure({
  jobs: arg('jobs', SMOKE ? 40 : 3000),
  clients: arg('clients', SMOKE ? 4 : 32),
  steps: arg('steps', SMOKE ? 2 : 10),
  deadlineMs: SMOKE ? 60_000 : 10 * 60_000,
});
const log = (m) => process.stderr.write(`${m}\n`);

async function main() {
  await snapshotDist(log);
  const infra = await startInfra(log);
  try {
    const b = await bare(infra);
    const s = await squall(infra);
    console.log(JSON.stringify(await summarize(b, s)));
    if (SMOKE && s.problems.length) {
      for (const p of s.problems) log(`problem: ${p}`);
      return 1;
    }
    return 0;
  } finally {
    await infra.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    killAllSync();
    process.exit(1);
  },
);
