import { AppError } from '../infra/errors/app-error.js';
import { JobHandler, type JobContext } from '../jobs/job-handler.decorator.js';

/** What demo.edge does: each is an outcome the runner must end in a stored, clear state. */
export const EDGE_CASES = [
  'echo-depth', // completes with {depth} of its payload's `data`
  'deep-result', // returns a result nested `n` levels deep
  'circular', // returns a circular object (JSON.stringify throws)
  'bigint', // returns a BigInt (JSON.stringify throws)
  'function', // returns a function (not JSON)
  'nul-result', // returns a string with U+0000 (Postgres refuses it in jsonb)
  'nul-error', // throws an error whose message has U+0000 (Postgres refuses it in text)
  'long-error', // throws an error of `n` characters
  'block', // blocks the event loop for `ms` (a CPU-bound handler), then completes
  'spam', // reports progress every tick for `ms`, ignoring its abort signal
] as const;
type EdgeCase = (typeof EDGE_CASES)[number];

export interface EdgePayload {
  do: EdgeCase;
  n?: number;
  ms?: number;
  data?: unknown;
}

function validate(input: unknown): EdgePayload {
  const p = input as Partial<EdgePayload> | null;
  if (typeof p !== 'object' || p === null || !EDGE_CASES.includes(p.do as EdgeCase)) {
    throw new AppError('bad_request', `payload.do must be one of ${EDGE_CASES.join(', ')}`);
  }
  for (const k of ['n', 'ms'] as const) {
    const v = p[k];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 60_000)) {
      throw new AppError('bad_request', `payload.${k} must be an integer between 0 and 60000`);
    }
  }
  return p as EdgePayload;
}

const depth = (v: unknown): number =>
  typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0;

/**
 * Misbehaves on request: results JSON cannot carry, errors Postgres refuses,
 * a blocked event loop, a handler deaf to its abort. The jobs tests use it to
 * pin how the runner ends each; it also shows handler authors what happens.
 */
@JobHandler({
  name: 'demo.edge',
  payload: { validate },
  attempts: 3,
  backoff: { type: 'fixed', delayMs: 100 },
})
export class EdgeJob {
  async run(p: EdgePayload, ctx: JobContext): Promise<unknown> {
    switch (p.do) {
      case 'echo-depth':
        return { depth: depth(p.data) };
      case 'deep-result': {
        let v: unknown = 'bottom';
        for (let i = 1; i < (p.n ?? 10); i++) v = { v };
        return v;
      }
      case 'circular': {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      }
      case 'bigint':
        return { big: 10n };
      case 'function':
        return () => 1;
      case 'nul-result':
        return { text: 'a\u0000b' };
      case 'nul-error':
        throw new Error('bad\u0000byte');
      case 'long-error':
        throw new Error('x'.repeat(p.n ?? 4000));
      case 'block': {
        const until = Date.now() + (p.ms ?? 0);
        while (Date.now() < until) {
          // Busy on purpose: nothing else in this process runs meanwhile.
        }
        return { blocked: p.ms ?? 0 };
      }
      case 'spam': {
        const until = Date.now() + (p.ms ?? 0);
        let i = 0;
        while (Date.now() < until) {
          void ctx.progress(++i % 100);
          await new Promise((r) => setImmediate(r));
        }
        return { reports: i };
      }
    }
  }
}
