/**
 * Fan-out steps: for each subscriber count, the fan-out scenario (one
 * channel, one publisher at a fixed rate) at rising offered rates, until no
 * system keeps p99 under the limit with nothing lost. The figure that counts
 * is each system's highest deliveries/s at a step it passed, and Squall's p99
 * at that step against the baseline's p99 at the same step (issue 11's
 * "highest deliveries/s with p99 < 100 ms"). Each step reconnects its
 * subscribers (scenarios/fanout.mjs runOne), so steps do not share state.
 *
 * cfg (ctx.cfg[key]): sizes (subscriber counts), instances (Squall instances
 * the subscribers are spread over: 1, or 2 with B reached through Redis),
 * rates (offered deliveries/s per step), stepSeconds, p99LimitMs.
 */
import { closesText } from './common.mjs';
import { fanout } from './fanout.mjs';

function passes(x, limitMs) {
  return (
    x.lost === 0 &&
    x.gaps === 0 &&
    x.duplicates === 0 &&
    Object.keys(x.unexpectedCloses).length === 0 &&
    x.latency.p99 < limitMs
  );
}

async function ladder(ctx, c, K) {
  const steps = [];
  for (const offered of c.rates) {
    const rate = offered / K; // messages per second on the channel
    const messages = Math.max(5, Math.round(rate * c.stepSeconds));
    const warmup = Math.max(3, Math.round(rate)); // about one second of the same rate
    ctx.log(
      `fanout ${K} subscribers: step ${offered}/s offered (${messages} messages at ${rate.toFixed(1)}/s)`,
    );
    const fanCfg = { subscribers: K, messages, rate, warmup, instances: c.instances };
    const r = await fanout({ ...ctx, cfg: { ...ctx.cfg, fanout: fanCfg } });
    const systems = {};
    for (const [k, x] of Object.entries(r.raw)) if (x) systems[k] = { pass: passes(x, c.p99LimitMs), ...x };
    steps.push({ offered, rate, messages, systems });
    ctx.log(
      `fanout ${K} @ ${offered}/s: ${Object.entries(systems)
        .map(
          ([k, x]) =>
            `${k} ${x.deliveriesPerSec.toFixed(0)}/s p99 ${x.latency.p99.toFixed(0)} ms ${x.pass ? 'pass' : 'FAIL'}`,
        )
        .join(', ')}`,
    );
    if (!Object.values(systems).some((x) => x.pass)) break;
  }
  // Each system's best: the highest step it passed (steps rise, so the last one passed). Comparing
  // steps rather than measured rates keeps a tie a tie: at a passing step both deliver what is offered.
  const best = {};
  for (const k of Object.keys(steps[0].systems)) {
    let b = null;
    for (const [i, s] of steps.entries())
      if (s.systems[k].pass)
        b = { step: i, offered: s.offered, deliveriesPerSec: s.systems[k].deliveriesPerSec };
    best[k] = b;
  }
  return { subscribers: K, steps, best };
}

export async function fanoutSteps(ctx, key) {
  const c = ctx.cfg[key];
  const sizes = [];
  for (const K of c.sizes) sizes.push(await ladder(ctx, c, K));
  const rows = [];
  for (const z of sizes) {
    const tag = `[${z.subscribers} subscribers]`;
    for (const s of z.steps) {
      const { squall: q, baseline: b } = s.systems;
      rows.push(
        {
          metric: `${tag} ${s.offered}/s offered: deliveries/s`,
          squall: q.deliveriesPerSec,
          baseline: b.deliveriesPerSec,
          better: 'higher',
        },
        {
          metric: `${tag} ${s.offered}/s offered: p99 (ms)`,
          squall: q.latency.p99,
          baseline: b.latency.p99,
          better: 'lower',
        },
      );
    }
    const bs = z.best.squall;
    const bb = z.best.baseline;
    const atStep = bs ? z.steps[bs.step].systems : null;
    rows.push(
      {
        metric: `${tag} highest step passed (p99 < ${c.p99LimitMs} ms): deliveries/s offered`,
        squall: bs ? bs.offered : 0,
        baseline: bb ? bb.offered : 0,
        better: 'higher',
      },
      {
        metric: `${tag} deliveries/s measured at that step`,
        squall: bs ? bs.deliveriesPerSec : 0,
        baseline: bb ? bb.deliveriesPerSec : 0,
        better: 'higher',
      },
      {
        metric: `${tag} p99 at squall's best step (ms)`,
        squall: atStep ? atStep.squall.latency.p99 : NaN,
        baseline: atStep ? atStep.baseline.latency.p99 : NaN,
        better: 'lower',
      },
      {
        metric: `${tag} lost / gaps / duplicates / closes`,
        squall: evidence(z.steps, 'squall'),
        baseline: evidence(z.steps, 'baseline'),
        ratio: false,
      },
    );
  }
  const notes = [
    `Subscribers on one channel over ${ctx.gens.length} load-generator processes; at each step one publisher sends ${c.stepSeconds} s of messages at (offered deliveries/s ÷ subscribers) per second after a ~1 s warm-up; steps ${c.rates.join(', ')} deliveries/s, stopping after the first step no system passes.`,
    `A step passes when p99 < ${c.p99LimitMs} ms and nothing is lost, reordered, duplicated or closed. Deliveries/s = deliveries ÷ (last receive − first send). When both pass the top step, the ratio 1.0 means "at least as high as tested".`,
    c.instances === 1
      ? 'Squall: one instance holds every subscriber (the publisher on it too); every publish is committed to Postgres before fan-out. Baseline: 1 bare ws process, in memory.'
      : `Squall: ${c.instances} instances, subscribers split evenly, publisher on A (B's subscribers are reached through Redis); every publish is committed to Postgres before fan-out. Baseline: 1 bare ws process, in memory.`,
  ];
  return { rows, notes, raw: { sizes } };
}

function evidence(steps, k) {
  let lost = 0;
  let gaps = 0;
  let dups = 0;
  const closes = {};
  for (const s of steps) {
    const x = s.systems[k];
    lost += x.lost;
    gaps += x.gaps;
    dups += x.duplicates;
    for (const [code, n] of Object.entries(x.unexpectedCloses)) closes[code] = (closes[code] ?? 0) + n;
  }
  return `${lost}/${gaps}/${dups}/${closesText(closes)}`;
}
