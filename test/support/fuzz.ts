/**
 * Shared pieces of the fuzz suites (test/security/fuzz-*.test.ts): bounded
 * fast-check runs with a fixed seed (FUZZ_SEED overrides it, FUZZ_RUNS sets
 * the runs of every property, to scale up locally), a case count per
 * property, a raw-socket HTTP client for requests fetch refuses to send, the
 * arbitraries the suites share, and the health checks run after each batch.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { type Instance } from './instance.js';
import { uniqueChannel } from './http.js';

/** The seed of every property; printed with every failure, so `FUZZ_SEED=<n>` replays it. */
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261205;
/** Every request of a fuzz case must be answered within this; longer is a hang. */
export const REQUEST_TIMEOUT_MS = 10_000;

const counts = new Map<string, number>();
const outcomes = new Map<string, Map<string, number>>();
let current = '';

/** Records what a case got (a status, a frame event, a close code), to show the fuzz reaches past the parsers. */
export function tally(outcome: string | number): void {
  const byOutcome = outcomes.get(current) ?? new Map<string, number>();
  byOutcome.set(String(outcome), (byOutcome.get(String(outcome)) ?? 0) + 1);
  outcomes.set(current, byOutcome);
}

/** Cases run per property in this file, for the summary the suites print. */
export function fuzzCounts(): ReadonlyMap<string, number> {
  return counts;
}

/** Prints the per-property counts and their total (call from afterAll). */
export function printFuzzSummary(suite: string): void {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const lines = [...counts].map(([name, n]) => {
    const seen = [...(outcomes.get(name) ?? [])].sort().map(([o, k]) => `${o}×${k}`);
    return `  ${String(n).padStart(5)}  ${name}${seen.length ? `  [${seen.join(' ')}]` : ''}`;
  });
  process.stdout.write(
    `fuzz ${suite} (seed ${FUZZ_SEED}):\n${lines.join('\n')}\n  ${String(total).padStart(5)}  total\n`,
  );
}

/**
 * Runs `check` over `runs` cases of `arb` (FUZZ_RUNS overrides `runs`) with the
 * fixed seed, counting the cases. A failure says how to replay it.
 */
export async function fuzz<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => Promise<void>,
  runs: number,
): Promise<void> {
  const numRuns = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : runs;
  counts.set(name, counts.get(name) ?? 0);
  const property = fc.asyncProperty(arb, async (value) => {
    current = name;
    counts.set(name, counts.get(name)! + 1);
    await check(value);
  });
  try {
    await fc.assert(property, { seed: FUZZ_SEED, numRuns, endOnFailure: false });
  } catch (err) {
    // What the check said first: the counterexample after it can be near MAX_MESSAGE_BYTES long.
    const cause = (err as { cause?: unknown }).cause;
    const why = cause instanceof Error ? `${cause.message.slice(0, 2000)}\n` : '';
    const message = why + (err as Error).message;
    const shown = message.length > 6000 ? `${message.slice(0, 6000)}… (${message.length} chars)` : message;
    // No `cause`: Jest would print the original, counterexample and all, in full.
    throw new Error(`fuzz property "${name}" failed; replay with FUZZ_SEED=${FUZZ_SEED}\n${shown}`);
  }
}

// ---------------------------------------------------------------- checks

/** Pino lines at error (50) or fatal (60) the instance wrote: client misbehaviour must never log one. */
export function errorLogLines(instance: Instance): string[] {
  return instance
    .output()
    .split('\n')
    .filter((line) => {
      const m = /"level":(\d+)/.exec(line);
      return m !== null && Number(m[1]) >= 50;
    });
}

/** Fails unless the process is running and has logged no error. */
export function assertHealthy(instance: Instance): void {
  const { exitCode, signalCode } = instance.process;
  if (exitCode !== null || signalCode !== null) {
    throw new Error(
      `instance exited (${exitCode ?? signalCode}) during fuzzing\n${instance.output().slice(-4000)}`,
    );
  }
  const errors = errorLogLines(instance);
  if (errors.length) throw new Error(`instance logged errors:\n${errors.slice(0, 5).join('\n')}`);
}

/** After a batch: the process is alive, logged no error, and still publishes and reads back. */
export async function assertServes(
  instance: Instance,
  { headers = {}, prefix = 'fuzz-ok' }: { headers?: Record<string, string>; prefix?: string } = {},
): Promise<void> {
  assertHealthy(instance);
  const channel = uniqueChannel(prefix);
  const published = await fetch(`${instance.url}/v1/channels/${channel}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ data: { ok: true } }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (published.status !== 201) throw new Error(`publish after fuzzing: ${published.status}`);
  const page = (await (
    await fetch(`${instance.url}/v1/channels/${channel}/messages`, {
      headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
  ).json()) as { messages: Array<{ data: unknown }> };
  if (JSON.stringify(page.messages.map((m) => m.data)) !== '[{"ok":true}]') {
    throw new Error(`read back after fuzzing: ${JSON.stringify(page)}`);
  }
}

// ---------------------------------------------------------------- HTTP

export interface Answer {
  /** 0 when the connection closed without an answer. */
  status: number;
  head: string;
  body: string;
}

/**
 * Sends `request` as bytes on a fresh TCP connection and reads the answer
 * (until the server closes, or the head of an event stream). `halfClose`
 * ends the client's side after writing, as a client that sent less body than
 * its Content-Length and gave up would. Rejects after REQUEST_TIMEOUT_MS.
 */
export function rawRequest(
  port: number,
  request: Buffer | string,
  { halfClose = false } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const headOnly = Buffer.from(request).subarray(0, 5).toString('latin1') === 'HEAD ';
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      // Interim answers (100 Continue) come before the real one.
      const text = Buffer.concat(chunks)
        .toString('latin1')
        .replace(/^(HTTP\/1\.[01] 1(?!01)\d\d[^]*?\r\n\r\n)+/, '');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: status ? Number(status[1]) : 0, head, body: end === -1 ? '' : text.slice(end + 4) });
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)`)),
      REQUEST_TIMEOUT_MS,
    );
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks)
        .toString('latin1')
        .replace(/^(HTTP\/1\.[01] 1(?!01)\d\d[^]*?\r\n\r\n)+/, '');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = text.slice(0, end);
      // A stream or an accepted WebSocket upgrade never ends by itself: its head is the answer.
      if (/content-type: text\/event-stream/i.test(head) || /^HTTP\/1\.1 101/.test(head)) return finish();
      // Answers without a body.
      if (headOnly || /^HTTP\/1\.[01] (204|304)/.test(head)) return finish();
      // A whole answer on a kept-alive connection: no need to wait for the close.
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (length && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1])) finish();
      else if (/\r\ntransfer-encoding: *chunked/i.test(head) && text.endsWith('\r\n0\r\n\r\n')) finish();
    });
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.write(request, () => {
      if (halfClose) socket.end();
    });
  });
}

/**
 * fetch with the per-request timeout; reads the body unless it is an event
 * stream (which never ends). Resolves with the status and text.
 */
export async function timedFetch(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string }> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)`)),
    REQUEST_TIMEOUT_MS,
  );
  try {
    const res = await fetch(url, { ...init, signal: abort.signal });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      abort.abort();
      return { status: res.status, body: '' };
    }
    return { status: res.status, body: await res.text() };
  } catch (err) {
    if (abort.signal.aborted) throw abort.signal.reason as Error;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** An answer to bad input: a 4xx in the common error shape, or a 2xx/3xx when the input happened to be fine. */
export function assertNot5xx(what: string, answer: { status: number; body: string }): void {
  tally(answer.status);
  if (process.env.FUZZ_VERBOSE)
    process.stdout.write(`${answer.status} ${what.slice(0, 200)} -> ${answer.body.slice(0, 200)}\n`);
  if (answer.status === 0) throw new Error(`${what}: connection closed without an answer`);
  if (answer.status >= 500) throw new Error(`${what}: ${answer.status} ${answer.body.slice(0, 500)}`);
}

// ---------------------------------------------------------------- arbitraries

/** Keys that name something every object inherits: prototype pollution and shadowing. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

/** Numbers JSON can spell but JavaScript reads oddly: overflow to Infinity, precision loss, -0. */
export const ODD_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.0000000000000000000000001',
  '1E+308',
  '4294967296',
  '-9223372036854775808',
];

/** Any JSON value, unicode strings included. */
export const json = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' });

/** JSON text of a value of the wrong kind for whatever field it lands in. */
export const wrongType = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '""', '[]', '{}', '0', '-1', '1.5', '"x"', ...ODD_NUMBERS),
  json.map((v) => JSON.stringify(v)),
);

/** `depth` nested arrays or objects around a value: past the 64-level limit and deep enough to strain a recursive parser. */
export const deepNesting = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 60, max: 70 }), fc.integer({ min: 1000, max: 20_000 })),
    obj: fc.boolean(),
  })
  .map(({ depth, obj }) =>
    obj ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth),
  );

/** Strings that stress decoders and limits: unicode, lone surrogates, NUL, very long. */
export const hostileString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff',
    '\u202e',
    '\ufeff',
    '%00',
    '%',
    '%zz',
    '..',
    '../..',
    'é',
    '😀',
  ),
  fc.integer({ min: 100, max: 5000 }).map((n) => 'x'.repeat(n)),
);

/**
 * JSON text of an object built from `fields`: each present or not, mostly
 * with a value from its arbitrary, sometimes one of the wrong kind; now and
 * then with inherited-name keys, a key twice or an unknown field.
 */
export function objectText(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const field = (arb: fc.Arbitrary<string>) =>
    fc.option(fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: wrongType }), { freq: 6 });
  const own = fc.tuple(
    ...Object.entries(fields).map(([k, v]) => field(v).map((value) => [k, value] as const)),
  );
  const extra = fc.oneof(
    fc.tuple(fc.constantFrom(...PROTO_KEYS), fc.oneof(wrongType, fc.constant('{"polluted":true}'))),
    fc.tuple(fc.constantFrom(...Object.keys(fields)), wrongType),
    fc.tuple(fc.string({ maxLength: 10 }), wrongType),
  );
  return fc
    .tuple(own, fc.array(extra, { maxLength: 2 }), fc.nat({ max: 3 }), fc.boolean())
    .map(([entries, extras, extraCount, extrasFirst]) => {
      const present = entries.filter(([, v]) => v !== null) as Array<readonly [string, string]>;
      // Most objects carry no extra key, so most reach the checks past the shape.
      const added = extraCount === 0 ? extras : [];
      const all = extrasFirst ? [...added, ...present] : [...present, ...added];
      return `{${all.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    });
}

/** Byte-level mutations of a text: truncate, delete, insert, repeat, swap in a byte JSON treats specially. */
export function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => Buffer.from(b)),
        fc
          .constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', '\\u', '\\ud800', 'null', '1e400', '\u0000')
          .map((s) => Buffer.from(s)),
      ),
    }),
    fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  );
  return fc.tuple(text, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([t, ms]) => {
    let b = Buffer.from(t);
    for (const m of ms) {
      const at = b.length ? m.at % (b.length + 1) : 0;
      if (m.kind === 'truncate') b = b.subarray(0, at);
      else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
      else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
      else b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]);
    }
    return b;
  });
}

/** A channel name as it could appear in a URL path: valid, percent-encoded, unicode, very long, traversal. */
export const channelPathSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_\-.:]{1,20}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map((s) =>
    // Lone surrogates cannot be encoded: write them as raw escapes.
    [...s]
      .map((c) =>
        /[A-Za-z0-9]/.test(c) ? c : `%${(c.codePointAt(0)! & 0xff).toString(16).padStart(2, '0')}`,
      )
      .join(''),
  ),
  fc.constantFrom(
    '%',
    '%zz',
    '%E0%A4%A',
    '%C0%80',
    '%ED%A0%80',
    '%00',
    '%2F',
    '%2e%2e',
    '..',
    '.',
    'a%20b',
    '__proto__',
    'constructor',
    'job:1',
    'sys:stats',
    'job%3Ax',
    ':',
    '::::',
    'a:',
    ':a',
  ),
  fc.integer({ min: 120, max: 9000 }).map((n) => 'c'.repeat(n)),
);

/** A query value: digits in and out of range, forms Number() would accept, garbage, encodings. */
export const queryValue = fc.oneof(
  fc.integer({ min: -5, max: 1100 }).map(String),
  fc.constantFrom(
    '',
    '0',
    '1',
    '-0',
    '+1',
    '1e2',
    '0x10',
    ' 1',
    '1 ',
    '1.5',
    'NaN',
    'Infinity',
    '9007199254740992',
    '99999999999999999999',
    '00000000000000000001',
  ),
  fc.constantFrom('%', '%zz', '%00', '%E0%A4%A', '%F0%9F%98%80', 'a%26b', '%3D', '+', '%2B'),
  fc.constantFrom(
    'queued',
    'active',
    'completed',
    'failed',
    'cancelled',
    'QUEUED',
    'test.sleep',
    'test.fail',
  ),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
  fc.base64String({ maxLength: 80 }).map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, '')),
  fc.integer({ min: 200, max: 3000 }).map((n) => 'a'.repeat(n)),
);

/** A raw query string over `keys`: repeated keys, brackets, missing `=`, odd separators. */
export function queryString(keys: string[], value: fc.Arbitrary<string> = queryValue): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...keys) },
    fc.constantFrom(...keys).map((k) => `${k}[]`),
    fc.constantFrom(...keys).map((k) => `${k}[x]`),
    fc.constantFrom('_', '__proto__', 'constructor', '', '%', 'toString', 'hasOwnProperty'),
  );
  const pair = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(key, value).map(([k, v]) => `${k}=${v}`) },
    key,
    fc.tuple(key, value, value).map(([k, a, b]) => `${k}=${a}=${b}`),
  );
  return fc
    .array(pair, { maxLength: 5 })
    .chain((pairs) =>
      fc.constantFrom('&', '&&', ';').map((sep) => (pairs.length ? `?${pairs.join(sep)}` : '')),
    );
}
