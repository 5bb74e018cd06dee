import fc from 'fast-check';
import { base64url } from 'jose';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { SECRET, TOKEN_ENV, WRONG_SECRET, signToken } from '../support/auth.js';
import {
  PROTO_KEYS,
  assertNot5xx,
  assertServes,
  fuzz,
  json,
  printFuzzSummary,
  rawRequest,
  tally,
  timedFetch,
} from '../support/fuzz.js';
import { createHmac } from 'node:crypto';

/**
 * Broken tokens (truncated, bit-flipped, re-signed with another key, claims
 * of the wrong type, huge, `alg: none` and other algorithms, garbage) are a
 * 401 in the common error shape on every way a token arrives, never a 500,
 * and the answer never quotes the token.
 */

let api: Instance;
beforeAll(async () => {
  api = await startInstance({ ROLE: 'api', ...TOKEN_ENV });
});
afterAll(async () => {
  printFuzzSummary('tokens');
  await stopAllInstances();
});

const GOOD = { sub: 'alice', subscribe: ['fzt:*'], publish: ['fzt:*'] };
let valid: string;
let validHeaders: Record<string, string>;
beforeAll(async () => {
  valid = await signToken(GOOD);
  validHeaders = { authorization: `Bearer ${valid}` };
});

/** HS256 over exactly the header and payload given (any JSON text, wrong types included). */
function sign(header: string, payload: string, secret = SECRET): string {
  const input = `${base64url.encode(header)}.${base64url.encode(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);
const validPayload = () => ({ ...GOOD, iat: now(), exp: now() + 3600 });

/** How a token reaches the instance: each is a 401 for a bad token. */
const WAYS = [
  'publish',
  'history',
  'poll',
  'sse ?token=',
  'jobs list',
  'poll ?token=',
  'job submit',
  'board ?token=',
] as const;
type Way = (typeof WAYS)[number];

async function send(way: Way, token: string): Promise<{ status: number; body: string }> {
  const channel = `fzt:${uniqueChannel('t')}`;
  const auth = { authorization: `Bearer ${token}` };
  const q = encodeURIComponent(token);
  switch (way) {
    case 'publish':
      return timedFetch(`${api.url}/v1/channels/${channel}/messages`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"data":1}',
      });
    case 'history':
      return timedFetch(`${api.url}/v1/channels/${channel}/messages`, { headers: auth });
    case 'poll':
      return timedFetch(`${api.url}/v1/channels/${channel}/poll?timeout=0`, { headers: auth });
    case 'poll ?token=':
      return timedFetch(`${api.url}/v1/channels/${channel}/poll?timeout=0&token=${q}`);
    case 'sse ?token=':
      return timedFetch(`${api.url}/v1/channels/${channel}/stream?token=${q}`);
    case 'board ?token=':
      return timedFetch(`${api.url}/admin/queues?token=${q}`, { redirect: 'manual' });
    case 'jobs list':
      return timedFetch(`${api.url}/v1/jobs`, { headers: auth });
    case 'job submit':
      return timedFetch(`${api.url}/v1/jobs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"type":"nope"}',
      });
  }
}

/** The token must be refused: 401 in the common shape, not quoting it. */
async function assertRefused(way: Way, token: string, what: string): Promise<void> {
  const answer = await send(way, token);
  assertNot5xx(`${what} via ${way}`, answer);
  if (answer.status !== 401) {
    throw new Error(`${what} via ${way}: expected 401, got ${answer.status} ${answer.body.slice(0, 300)}`);
  }
  const body = JSON.parse(answer.body) as { statusCode?: number; error?: string; message?: string };
  if (body.statusCode !== 401 || body.error !== 'Unauthorized' || typeof body.message !== 'string') {
    throw new Error(`${what} via ${way}: not the common error shape: ${answer.body.slice(0, 300)}`);
  }
  if (token.length >= 16 && answer.body.includes(token))
    throw new Error(`${what}: the answer quotes the token`);
}

const way = fc.constantFrom(...WAYS);
const show = (t: string) => (t.length > 200 ? `${t.slice(0, 200)}…(${t.length})` : t);

/** Claims that are each definitely wrong: a token carrying any of them is refused. */
const badClaim: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(
    fc.constant('sub'),
    fc.oneof(
      fc.integer(),
      fc.constant(''),
      fc.constant(null),
      fc.array(fc.string()),
      fc.object(),
      fc.constant('s'.repeat(257)),
    ),
  ),
  fc.tuple(
    fc.constantFrom('subscribe', 'publish'),
    fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.object({ maxDepth: 3 }),
      fc.array(
        fc.oneof(fc.integer(), fc.constant(''), fc.object(), fc.array(fc.string()), fc.constant(null)),
        { minLength: 1 },
      ),
      fc.constant(Array.from({ length: 101 }, (_, i) => `p${i}`)),
      fc.constant(['x'.repeat(257)]),
    ),
  ),
  fc.tuple(fc.constant('admin'), fc.oneof(fc.constantFrom('true', 1, 0, null, 'false'), fc.object())),
  fc.tuple(
    fc.constant('exp'),
    fc.oneof(fc.constantFrom('9999999999', null, true), fc.object(), fc.integer({ min: 0, max: 1_000_000 })),
  ),
  fc.tuple(fc.constant('nbf'), fc.oneof(fc.constantFrom('0', null), fc.object(), fc.constant(9_999_999_999))),
  fc.tuple(fc.constant('iat'), fc.oneof(fc.constantFrom('0', null, true), fc.object())),
);

describe('token fuzzing (AUTH_JWT_SECRET)', () => {
  afterEach(() => assertServes(api, { headers: validHeaders, prefix: 'fzt:ok' }));

  it('truncated and bit-flipped tokens', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        to: fc.constantFrom(...'ABCxyz019-_.=+/ '),
      }),
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
    );
    await fuzz(
      'token truncated or flipped',
      fc.tuple(fc.array(mutation, { minLength: 1, maxLength: 3 }), way),
      async ([ms, w]) => {
        let t = valid;
        for (const m of ms) {
          const at = m.at % t.length;
          if (m.kind === 'truncate') t = t.slice(0, at);
          else if (m.kind === 'drop') t = t.slice(0, at) + t.slice(at + 1);
          else t = t.slice(0, at) + m.to + t.slice(at + 1);
        }
        // A change the signature's base64 cannot see (its last character's
        // spare bits) leaves the token valid; anything else is refused.
        const [h, p, s] = t.split('.');
        const same =
          t.split('.').length === 3 &&
          `${h}.${p}` === valid.split('.').slice(0, 2).join('.') &&
          /^[A-Za-z0-9_-]+$/.test(s ?? '') &&
          Buffer.from(s, 'base64url').equals(Buffer.from(valid.split('.')[2], 'base64url'));
        if (same || t === valid) {
          tally('still valid');
          return;
        }
        if (t.length === 0) return tally('empty: no token');
        await assertRefused(w, t, `token ${show(t)}`);
      },
      200,
    );
  }, 90_000);

  it('claims of the wrong type, signed with the right key', async () => {
    await fuzz(
      'token claims of the wrong type',
      fc.tuple(fc.array(badClaim, { minLength: 1, maxLength: 3 }), way),
      async ([claims, w]) => {
        const payload = { ...validPayload(), ...Object.fromEntries(claims) };
        const token = sign('{"alg":"HS256","typ":"JWT"}', JSON.stringify(payload));
        await assertRefused(w, token, `claims ${show(JSON.stringify(claims))}`);
      },
      200,
    );
  }, 90_000);

  it('re-signed with another key, other algorithms, alg none, odd headers, payloads that are not claims', async () => {
    const header = fc.oneof(
      fc.constantFrom(
        '{"alg":"none"}',
        '{"alg":"none","typ":"JWT"}',
        '{"alg":"NONE"}',
        '{"alg":"HS512"}',
        '{"alg":"HS384"}',
        '{"alg":"RS256"}',
        '{"alg":"ES256"}',
        '{"alg":"PS256"}',
        '{"alg":"EdDSA"}',
        '{"alg":""}',
        '{"alg":null}',
        '{"alg":["HS256"]}',
        '{"alg":{"a":1}}',
        '{"alg":"HS256","crit":["b64"],"b64":false}',
        '{"alg":"HS256","crit":["exp"]}',
        '{"alg":"HS256","crit":"x"}',
        '{"alg":"HS256","kid":"../../etc/passwd"}',
        '{"alg":"HS256","jku":"http://127.0.0.1:1/jwks"}',
        '{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}',
        '{"alg":"HS256","__proto__":{"alg":"none"}}',
        '{"alg":"HS256","alg":"none"}',
        '{}',
        '[]',
        'null',
        '"HS256"',
        'not json',
        '',
      ),
      json.map((v) => JSON.stringify(v)),
      fc.constantFrom(...PROTO_KEYS).map((k) => `{"alg":"HS256",${JSON.stringify(k)}:{"alg":"none"}}`),
    );
    const payload = fc.oneof(
      { weight: 3, arbitrary: fc.constant(null).map(() => JSON.stringify(validPayload())) },
      json.map((v) => JSON.stringify(v)),
      fc.constantFrom('[]', 'null', '1', '"x"', 'not json', '', '{"sub":"alice","exp":1e400}'),
    );
    const key = fc.constantFrom('right', 'wrong', 'empty signature', 'none');
    await fuzz(
      'token headers, algorithms and keys',
      fc.tuple(header, payload, key, way),
      async ([h, p, k, w]) => {
        // A JSON object header with alg HS256 and nothing critical, claims
        // with a sub, and the right key may make a good token: not checked here.
        const parsed = (text: string): Record<string, unknown> | undefined => {
          try {
            const v: unknown = JSON.parse(text);
            return typeof v === 'object' && v !== null && !Array.isArray(v)
              ? (v as Record<string, unknown>)
              : undefined;
          } catch {
            return undefined;
          }
        };
        const hdr = parsed(h);
        const claims = parsed(p);
        const ok =
          k === 'right' &&
          hdr?.alg === 'HS256' &&
          !('crit' in hdr) &&
          typeof claims?.sub === 'string' &&
          claims.sub.length > 0;
        const signed = sign(h, p, k === 'wrong' ? WRONG_SECRET : SECRET);
        const token =
          k === 'empty signature'
            ? signed.replace(/[^.]+$/, '')
            : k === 'none'
              ? `${signed.split('.').slice(0, 2).join('.')}.`
              : signed;
        if (ok) {
          tally('maybe valid');
          return;
        }
        await assertRefused(w, token, `header ${show(h)} payload ${show(p)} key ${k}`);
      },
      200,
    );
  }, 90_000);

  it('garbage, huge tokens and malformed Authorization headers', async () => {
    const b64 = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
    const token = fc.oneof(
      fc.tuple(b64, b64, b64).map((parts) => parts.join('.')),
      fc.array(b64, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 80 }).filter((s) => s.trim().length > 0),
      fc.integer({ min: 8193, max: 14_000 }).map((n) => `${valid}${'A'.repeat(n - valid.length)}`),
      fc
        .integer({ min: 8193, max: 14_000 })
        // Over MAX_TOKEN_CHARS once encoded, under Node's 16 KiB of headers.
        .map((n) =>
          sign(
            '{"alg":"HS256"}',
            JSON.stringify({ ...validPayload(), pad: 'p'.repeat(Math.floor((n * 3) / 4) - 150) }),
          ),
        ),
      fc.constantFrom(
        '.',
        '..',
        '...',
        'a.b',
        'a.b.c',
        'e30.e30.',
        'e30.e30.e30',
        '%00',
        'null',
        'undefined',
        'Bearer',
      ),
    );
    await fuzz(
      'token garbage and huge',
      fc.tuple(token, way),
      async ([t, w]) => {
        await assertRefused(w, t, `token ${show(t)}`);
      },
      150,
    );
    // The Authorization header itself, over a raw socket so any byte can be sent.
    const authorization = fc.oneof(
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer',
        'Basic YWxpY2U6cHc=',
        'Token abc',
        'Bearer a b',
        'Bearer\ta.b.c',
        ' Bearer x',
        'Bearer x,Bearer y',
      ),
      fc
        .uint8Array({ minLength: 1, maxLength: 60 })
        .map(
          (b) => `Bearer ${Buffer.from(b.map((x) => (x === 13 || x === 10 ? 32 : x))).toString('latin1')}`,
        ),
    );
    await fuzz(
      'Authorization header forms',
      fc.tuple(
        authorization,
        fc.constantFrom('/v1/channels/fzt:x/messages', '/v1/jobs', '/v1/channels/fzt:x/poll?timeout=0'),
      ),
      async ([value, path]) => {
        const answer = await rawRequest(
          api.port,
          Buffer.concat([
            Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: `),
            Buffer.from(value, 'latin1'),
            Buffer.from('\r\n\r\n'),
          ]),
        );
        assertNot5xx(`Authorization: ${show(value)}`, answer);
        // Bytes HTTP forbids in a header are refused by Node's parser (400) before any token is read.
        const forbidden = [...value].some((c) => (c < ' ' && c !== '\t') || c === '\x7f');
        if (answer.status !== 401 && !(forbidden && answer.status === 400)) {
          throw new Error(`Authorization: ${show(value)}: expected 401, got ${answer.status} ${answer.body}`);
        }
      },
      100,
    );
  }, 90_000);
});
