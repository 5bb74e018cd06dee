import fc from 'fast-check';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import {
  type Answer,
  ODD_NUMBERS,
  PROTO_KEYS,
  assertNot5xx,
  assertServes,
  channelPathSegment,
  deepNesting,
  fuzz,
  hostileString,
  json,
  mutated,
  objectText,
  printFuzzSummary,
  queryString,
  rawRequest,
  tally,
  timedFetch,
  wrongType,
} from '../support/fuzz.js';

/**
 * Random and mutated REST input (bodies, query strings, headers, channel
 * names in paths) never gets a 5xx, never crashes or hangs the instance,
 * and never makes it log an error; after each batch it still publishes and
 * reads back. Open mode (no AUTH_JWT_SECRET).
 */

// A small message limit puts the size limits within cheap reach.
const MAX = 1024;
let api: Instance;
beforeAll(async () => {
  api = await startInstance({ ROLE: 'api', MAX_MESSAGE_BYTES: String(MAX) });
});
afterAll(async () => {
  printFuzzSummary('rest');
  await stopAllInstances();
});

const TIMEOUT = 90_000;
const jsonText = json.map((v) => JSON.stringify(v));
const idempotencyKey = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e]{1,16}$/).map((s) => JSON.stringify(s)),
  hostileString.map((s) => JSON.stringify(s)),
);
/** `data` of every size around the limit, and values JSON reads oddly. */
const dataValue = fc.oneof(
  { weight: 3, arbitrary: jsonText },
  deepNesting,
  fc.constantFrom(...ODD_NUMBERS),
  fc.integer({ min: MAX - 40, max: MAX + 40 }).map((n) => JSON.stringify('d'.repeat(n))),
  fc.integer({ min: MAX, max: MAX * 3 }).map((n) => JSON.stringify('\u00e9'.repeat(n))),
  hostileString.map((s) => JSON.stringify(s)),
  fc.constantFrom(...PROTO_KEYS).map((k) => `{${JSON.stringify(k)}:{"polluted":1}}`),
);
const publishBody = fc.oneof(
  objectText({ data: dataValue, idempotencyKey }),
  wrongType,
  mutated(fc.tuple(dataValue, idempotencyKey).map(([d, k]) => `{"data":${d},"idempotencyKey":${k}}`)),
);

/** Sends `body` as the raw bytes of a request with a correct Content-Length. */
function requestBytes(method: string, path: string, body?: Buffer | string, headers: string[] = []): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const lines = [
    `${method} ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: close',
    ...headers,
    ...(b ? ['Content-Type: application/json', `Content-Length: ${b.length}`] : []),
  ];
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b ?? Buffer.alloc(0)]);
}

const show = (b: Buffer | string) => {
  const s = b.toString();
  return s.length > 300 ? `${s.slice(0, 300)}…(${s.length})` : s;
};

describe('REST fuzzing (open mode)', () => {
  it(
    'publish bodies: random, mutated, oversized, deeply nested, with inherited-name keys',
    async () => {
      await fuzz(
        'REST publish body',
        fc.tuple(publishBody, fc.constantFrom('fz', 'fz:x', 'job:1', 'sys:stats')),
        async ([body, ns]) => {
          const channel = ns.includes(':') ? ns : uniqueChannel(ns);
          const answer = await rawRequest(
            api.port,
            requestBytes('POST', `/v1/channels/${channel}/messages`, body),
          );
          assertNot5xx(`POST ${channel} ${show(body)}`, answer);
        },
        250,
      );
      await assertServes(api);
    },
    TIMEOUT,
  );

  it(
    'job submit bodies',
    async () => {
      const created: string[] = [];
      // Only job types that end quickly, should another file's worker pick one up before it is cancelled.
      const type = fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('"test.sleep"', '"test.fail"') },
        fc.constantFrom('"nope"', '""', '"TEST.SLEEP"', '"__proto__"', '"constructor"', '"toString"'),
      );
      const small = fc.oneof(fc.integer({ min: -2, max: 20 }).map(String), wrongType);
      const payload = fc.oneof(
        { weight: 2, arbitrary: objectText({ ms: small, steps: small, label: jsonText }) },
        { weight: 2, arbitrary: objectText({ failTimes: small }) },
        dataValue,
      );
      const submit = objectText({
        type,
        payload,
        idempotencyKey,
        delayMs: small,
        priority: fc.oneof(small, fc.constantFrom('2097151', '2097152')),
        attempts: small,
      });
      // A valid submit with at most one field wrong, so the checks past the shape run too.
      const nearlyValid = fc
        .tuple(
          fc.record({
            type: fc.constant('"test.sleep"'),
            payload: fc.nat({ max: 20 }).map((ms) => `{"ms":${ms}}`),
            idempotencyKey: fc.stringMatching(/^[\x21-\x7e]{1,16}$/).map((k) => JSON.stringify(k)),
            delayMs: fc.nat({ max: 10 }).map(String),
            priority: fc.nat({ max: 10 }).map(String),
            attempts: fc.integer({ min: 1, max: 3 }).map(String),
          }),
          fc.option(
            fc.tuple(
              fc.constantFrom('type', 'payload', 'idempotencyKey', 'delayMs', 'priority', 'attempts'),
              wrongType,
            ),
          ),
        )
        .map(([fields, swap]) => {
          const all: Record<string, string> = { ...fields, ...(swap ? { [swap[0]]: swap[1] } : {}) };
          return `{${Object.entries(all)
            .map(([k, v]) => `"${k}":${v}`)
            .join(',')}}`;
        });
      await fuzz(
        'REST job submit body',
        fc.oneof(
          { weight: 4, arbitrary: submit },
          { weight: 2, arbitrary: nearlyValid },
          wrongType,
          mutated(submit),
        ),
        async (body) => {
          const answer = await rawRequest(api.port, requestBytes('POST', '/v1/jobs', body));
          assertNot5xx(`POST /v1/jobs ${show(body)}`, answer);
          if (answer.status === 202) created.push((JSON.parse(answer.body) as { id: string }).id);
        },
        200,
      );
      // Leave nothing for the workers of later test files to run.
      for (const id of created) await timedFetch(`${api.url}/v1/jobs/${id}/cancel`, { method: 'POST' });
      await assertServes(api);
    },
    TIMEOUT,
  );

  it(
    'namespace bodies and names',
    async () => {
      const created = new Set<string>();
      const name = fc.oneof(
        fc.stringMatching(/^[a-z0-9]{1,8}$/).map((s) => JSON.stringify(`fuzz-${s}`)),
        fc
          .constantFrom(...PROTO_KEYS, 'x'.repeat(65), 'a:b', '', 'fuzz-\u00e9', 'fuzz-\u0000')
          .map((s) => JSON.stringify(s)),
      );
      const settings = {
        clientPublish: fc.constantFrom('true', 'false', 'null', '"true"', '1'),
        historyMaxPerChannel: fc.oneof(
          fc.integer({ min: -1, max: 2_000_000_000 }).map(String),
          fc.constantFrom('null', '1.5', '1e400'),
        ),
        historyTtlSeconds: fc.oneof(
          fc.integer({ min: -1, max: 400_000_000 }).map(String),
          fc.constantFrom('null', '-0'),
        ),
      };
      const create = objectText({ name, ...settings });
      const request = fc.oneof(
        fc
          .oneof({ weight: 4, arbitrary: create }, mutated(create), wrongType)
          .map((body) => ({ method: 'POST', path: '/v1/namespaces', body })),
        fc
          .tuple(
            fc.constantFrom('PATCH', 'GET', 'DELETE'),
            channelPathSegment,
            fc.oneof(objectText(settings), mutated(objectText(settings))),
          )
          .map(([method, seg, body]) => ({
            method,
            path: `/v1/namespaces/${seg}`,
            body: method === 'PATCH' ? body : undefined,
          })),
      );
      await fuzz(
        'REST namespaces',
        request,
        async ({ method, path, body }) => {
          const answer = await rawRequest(api.port, requestBytes(method, path, body));
          assertNot5xx(`${method} ${show(path)} ${body === undefined ? '' : show(body)}`, answer);
          if (method === 'POST' && answer.status === 201)
            created.add((JSON.parse(answer.body) as { name: string }).name);
        },
        150,
      );
      for (const n of created)
        await timedFetch(`${api.url}/v1/namespaces/${encodeURIComponent(n)}`, { method: 'DELETE' });
      await assertServes(api);
    },
    TIMEOUT,
  );

  it(
    'query strings of history, poll, SSE, channel info and the jobs list',
    async () => {
      const target = fc.oneof(
        fc
          .constantFrom('messages', 'poll', 'stream', '')
          .map((what) => ({ what, query: ['after', 'limit', 'timeout'] })),
        fc.constant({ what: 'jobs', query: ['state', 'type', 'limit', 'cursor'] as string[] }),
      );
      const request = target.chain(({ what, query }) => queryString(query).map((q) => ({ what, q })));
      await fuzz(
        'REST query strings',
        request,
        async ({ what, q }) => {
          const channel = uniqueChannel('fzq');
          const path =
            what === 'jobs' ? `/v1/jobs${q}` : `/v1/channels/${channel}${what ? `/${what}` : ''}${q}`;
          const pending = rawRequest(api.port, requestBytes('GET', path));
          let answer: Answer | undefined;
          if (what === 'poll') {
            // A valid poll waits (up to its timeout) for a message: publish one
            // to wake it, which any waiting poll must answer at once.
            answer = await Promise.race([
              pending,
              new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
            ]);
            if (!answer) {
              await timedFetch(`${api.url}/v1/channels/${channel}/messages`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: '{"data":1}',
              });
            }
          }
          answer ??= await pending;
          assertNot5xx(`GET ${show(path)}`, answer);
        },
        200,
      );
      await assertServes(api);
    },
    TIMEOUT,
  );

  it(
    'channel names in paths: encodings, unicode, very long, traversal',
    async () => {
      const segment = fc.oneof(
        { weight: 4, arbitrary: channelPathSegment.map((s) => Buffer.from(s)) },
        // Raw UTF-8 and raw bytes in the request line, as no browser would send.
        fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
          .map((s) => Buffer.from(s.replace(/[\s/?#]/g, 'x'))),
        fc
          .uint8Array({ minLength: 1, maxLength: 12 })
          .map((b) =>
            Buffer.from(b.map((x) => (x <= 0x20 || x === 0x2f || x === 0x3f || x === 0x23 ? 0x41 : x))),
          ),
      );
      const route = fc.constantFrom(
        ['GET', '/messages'],
        ['GET', '/poll?timeout=0'],
        ['GET', '/stream'],
        ['GET', ''],
        ['POST', '/messages'],
      );
      await fuzz(
        'REST channel names in paths',
        fc.tuple(segment, route),
        async ([seg, [method, rest]]) => {
          const path = Buffer.concat([Buffer.from('/v1/channels/'), seg, Buffer.from(rest)]);
          const body = method === 'POST' ? '{"data":1}' : undefined;
          const head = Buffer.concat([Buffer.from(`${method} `), path, Buffer.from(' ')]);
          const request = requestBytes(method, 'PATH', body);
          const bytes = Buffer.concat([head, request.subarray(`${method} PATH `.length)]);
          const answer = await rawRequest(api.port, bytes);
          assertNot5xx(`${method} ${show(path)}`, answer);
        },
        200,
      );
      await assertServes(api);
    },
    TIMEOUT,
  );

  it(
    'headers: Content-Type, Content-Length mismatches, encodings, Last-Event-ID, Idempotency-Key, Authorization',
    async () => {
      const headerValue = fc.oneof(
        hostileString.map((s) => Buffer.from(s.replace(/[\r\n]/g, ' '))),
        fc
          .uint8Array({ maxLength: 40 })
          .map((b) => Buffer.from(b.map((x) => (x === 0x0d || x === 0x0a ? 0x20 : x)))),
        fc
          .constantFrom('', ' ', '-1', '0', '18446744073709551616', '1e3', '1,2', '\t')
          .map((s) => Buffer.from(s)),
      );
      const contentType = fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'application/json; charset=nope',
        'application/json;;;',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/*',
        '',
        '*/*',
      );
      const header = fc.oneof(
        contentType.map((v) => `Content-Type: ${v}`),
        fc
          .constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'zstd', 'x')
          .map((v) => `Content-Encoding: ${v}`),
        fc
          .constantFrom('chunked', 'gzip, chunked', 'chunked, identity', 'x')
          .map((v) => `Transfer-Encoding: ${v}`),
        fc.constantFrom('100-continue', 'x').map((v) => `Expect: ${v}`),
        fc
          .constantFrom(
            'Last-Event-ID',
            'Idempotency-Key',
            'Authorization',
            'X-Forwarded-For',
            'Accept',
            'Origin',
            'X-Request-Id',
            'Host',
            'Range',
            'If-None-Match',
          )
          .chain((name) => headerValue.map((v) => Buffer.concat([Buffer.from(`${name}: `), v]))),
        fc
          .constantFrom(
            'Bearer',
            'Bearer ',
            'Basic Zm9vOmJhcg==',
            'Bearer a.b.c',
            'Bearer ' + 'x'.repeat(5000),
          )
          .map((v) => `Authorization: ${v}`),
      );
      const route = fc.constantFrom(
        ['POST', '/v1/channels/CH/messages', '{"data":{"n":1}}'],
        ['POST', '/v1/jobs', '{"type":"nope"}'],
        ['POST', '/v1/namespaces', '{"name":"__proto__"}'],
        ['GET', '/v1/channels/CH/stream', ''],
        ['GET', '/v1/channels/CH/poll?timeout=0', ''],
        ['GET', '/v1/channels/CH/messages', ''],
      );
      // Content-Length as sent: right, short (the rest is a second request), long (the body ends early), absent, invalid, twice.
      const length = fc.oneof(
        { weight: 6, arbitrary: fc.constant('right') },
        fc.constantFrom('short', 'long', 'absent', 'garbage', 'twice'),
      );
      await fuzz(
        'REST headers',
        fc.tuple(
          route,
          fc.option(
            fc.constantFrom('HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'FOO', 'get'),
            {
              freq: 6,
            },
          ),
          fc.array(header, { maxLength: 4 }),
          length,
          fc.option(mutated(fc.constant('{"data":{"n":1}}')), { freq: 4 }),
        ),
        async ([[routeMethod, pathTemplate, defaultBody], otherMethod, headers, cl, mutatedBody]) => {
          const method = otherMethod ?? routeMethod;
          const path = pathTemplate.replace('CH', uniqueChannel('fzh'));
          const body = mutatedBody ?? Buffer.from(defaultBody);
          const lengthHeaders =
            cl === 'right'
              ? [`Content-Length: ${body.length}`]
              : cl === 'short'
                ? [`Content-Length: ${Math.max(0, body.length - 3)}`]
                : cl === 'long'
                  ? [`Content-Length: ${body.length + 10}`]
                  : cl === 'garbage'
                    ? ['Content-Length: 1x']
                    : cl === 'twice'
                      ? [`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`]
                      : [];
          const head = Buffer.concat([
            Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`),
            ...headers.map((h) =>
              Buffer.concat([typeof h === 'string' ? Buffer.from(h, 'latin1') : h, Buffer.from('\r\n')]),
            ),
            Buffer.from(lengthHeaders.map((h) => `${h}\r\n`).join('') + '\r\n'),
          ]);
          const answer = await rawRequest(api.port, Buffer.concat([head, body]), {
            halfClose: cl === 'long',
          });
          // A client that sends less body than it announced and hangs up gets nothing; anything else is answered.
          if (cl === 'long' && answer.status === 0) return tally('no answer (body cut short)');
          assertNot5xx(`${show(head)}${show(body)}`, answer);
        },
        200,
      );
      await assertServes(api);
    },
    TIMEOUT,
  );
});
