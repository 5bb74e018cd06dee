import { rawRequest } from '../support/fuzz.js';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitForMetric } from '../support/metrics.js';

let api: Instance;
beforeAll(async () => {
  api = await startInstance({ ROLE: 'api', MAX_MESSAGE_BYTES: '1024', CORS_ORIGINS: 'https://app.example' });
});
afterAll(stopAllInstances);

const errorBody = (statusCode: number, message: RegExp) =>
  expect.objectContaining({ statusCode, error: expect.any(String), message: expect.stringMatching(message) });

describe('REST contract errors', () => {
  const ch = () => uniqueChannel('err');

  it.each([
    ['a bad channel name', () => get(api.url, '/v1/channels/bad%20name/messages'), /channel must match/],
    ['a too long channel name', () => get(api.url, `/v1/channels/${'x'.repeat(129)}`), /channel must match/],
    [
      'limit=0',
      () => get(api.url, `/v1/channels/${ch()}/messages?limit=0`),
      /limit must be between 1 and 1000/,
    ],
    ['limit=1001', () => get(api.url, `/v1/channels/${ch()}/messages?limit=1001`), /limit/],
    ['after=-1', () => get(api.url, `/v1/channels/${ch()}/messages?after=-1`), /after must be >= 0/],
    ['after=abc', () => get(api.url, `/v1/channels/${ch()}/poll?after=abc`), /after must be an integer/],
    ['after=1e2', () => get(api.url, `/v1/channels/${ch()}/messages?after=1e2`), /after must be an integer/],
    [
      'an empty limit',
      () => get(api.url, `/v1/channels/${ch()}/messages?limit=`),
      /limit must be an integer/,
    ],
    [
      'after past 2^53',
      () => get(api.url, `/v1/channels/${ch()}/messages?after=9223372036854775807`),
      /after must be an integer/,
    ],
    [
      'after=9007199254740992',
      () => get(api.url, `/v1/channels/${ch()}/stream?after=9007199254740992`),
      /after must be at most 9007199254740991/,
    ],
    [
      'data nested too deeply',
      () => post(api.url, `/v1/channels/${ch()}/messages`, `{"data":${'['.repeat(5000)}${']'.repeat(5000)}}`),
      /data is nested deeper than 64 levels/,
    ],
    [
      'a number JSON cannot represent',
      () => post(api.url, `/v1/channels/${ch()}/messages`, '{"data":{"n":1e400}}'),
      /data contains a number JSON cannot represent/,
    ],
    [
      'timeout=61',
      () => get(api.url, `/v1/channels/${ch()}/poll?timeout=61`),
      /timeout must be between 0 and 60/,
    ],
    [
      'a bad Last-Event-ID',
      () => get(api.url, `/v1/channels/${ch()}/stream`, { 'Last-Event-ID': 'x' }),
      /Last-Event-ID/,
    ],
    [
      'missing data',
      () => post(api.url, `/v1/channels/${ch()}/messages`, { idempotencyKey: 'k' }),
      /data is required/,
    ],
    [
      'a body that is not JSON',
      () => post(api.url, `/v1/channels/${ch()}/messages`, '{"data":'),
      /^body is not valid JSON/,
    ],
    [
      'a JSON array body',
      () => post(api.url, `/v1/channels/${ch()}/messages`, '[1]'),
      /body must be a JSON object/,
    ],
    [
      'a bracketed query key (after[]=3)',
      () => get(api.url, `/v1/channels/${ch()}/messages?after[]=3`),
      /query parameter after\[\] is not supported/,
    ],
    [
      'a query key given twice',
      () => get(api.url, `/v1/channels/${ch()}/messages?after=1&after=2`),
      /query parameter after is given more than once/,
    ],
    [
      'a bracketed query key on a poll (timeout[x]=1)',
      () => get(api.url, `/v1/channels/${ch()}/poll?timeout[x]=1`),
      /timeout\[x\]/,
    ],
    [
      'a non-string idempotencyKey',
      () => post(api.url, `/v1/channels/${ch()}/messages`, { data: 1, idempotencyKey: 5 }),
      /idempotencyKey/,
    ],
  ])('400 naming the field for %s', async (_name, call, message) => {
    const res = await call();
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorBody(400, message));
  });

  it('400 for a text/plain body', async () => {
    const res = await fetch(`${api.url}/v1/channels/${ch()}/messages`, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(errorBody(400, /body must be a JSON object/));
  });

  it('413 when data is over MAX_MESSAGE_BYTES, and for a body far over it', async () => {
    const over = await post(api.url, `/v1/channels/${ch()}/messages`, { data: 'x'.repeat(1100) });
    expect(over.status).toBe(413);
    expect(over.body).toEqual(errorBody(413, /limit is 1024/));
    const huge = await post(api.url, `/v1/channels/${ch()}/messages`, { data: 'x'.repeat(100_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.statusCode).toBe(413);
  });

  it('HEAD on a stream or a poll answers at once', async () => {
    const channel = ch();
    const stream = await fetch(`${api.url}/v1/channels/${channel}/stream`, { method: 'HEAD' });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const poll = await fetch(`${api.url}/v1/channels/${channel}/poll?timeout=60`, { method: 'HEAD' });
    expect(poll.status).toBe(200);
  });

  it('an after past the channel head counts as the head: the next message is not skipped', async () => {
    const channel = ch();
    for (let i = 0; i < 5; i++) await post(api.url, `/v1/channels/${channel}/messages`, { data: i });
    const empty = await get(api.url, `/v1/channels/${channel}/poll?after=50&timeout=0`);
    expect(empty.body).toEqual({ messages: [], lastSeq: 5 });
    const waiting = get(api.url, `/v1/channels/${channel}/poll?after=50&timeout=30`);
    await waitForMetric(api, 'squall_hub_subscribers', (n) => n === 1);
    await post(api.url, `/v1/channels/${channel}/messages`, { data: 'next' });
    expect((await waiting).body).toMatchObject({ lastSeq: 6, messages: [{ seq: 6, data: 'next' }] });
  });

  it('CORS answers for the configured origin only', async () => {
    const allowed = await fetch(`${api.url}/v1/channels/${ch()}`, {
      headers: { Origin: 'https://app.example' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await fetch(`${api.url}/v1/channels/${ch()}`, {
      headers: { Origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('403 for a publish to job:*', async () => {
    const res = await post(api.url, '/v1/channels/job:123/messages', { data: 1 });
    expect(res.status).toBe(403);
    expect(res.body).toEqual(errorBody(403, /written only by the service/));
  });

  it('404 for an unknown route', async () => {
    const res = await get(api.url, '/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.statusCode).toBe(404);
  });

  it('an idempotencyKey reused on the channel answers 200 with the original message', async () => {
    const channel = ch();
    const first = await post(api.url, `/v1/channels/${channel}/messages`, {
      data: 'a',
      idempotencyKey: 'once',
    });
    const again = await post(api.url, `/v1/channels/${channel}/messages`, {
      data: 'b',
      idempotencyKey: 'once',
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const next = await post(api.url, `/v1/channels/${channel}/messages`, { data: 'c' });
    expect(next.body.seq).toBe(2); // the duplicate burned no seq
  });

  it('a replay says so in Idempotent-Replayed; a null idempotencyKey counts as none', async () => {
    const channel = ch();
    const body = { data: 'a', idempotencyKey: 'k' };
    expect(
      (await post(api.url, `/v1/channels/${channel}/messages`, body)).headers.get('idempotent-replayed'),
    ).toBeNull();
    const again = await post(api.url, `/v1/channels/${channel}/messages`, body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const nulls = await Promise.all(
      [1, 2].map(() =>
        post(api.url, `/v1/channels/${channel}/messages`, { data: 'n', idempotencyKey: null }),
      ),
    );
    expect(nulls.map((r) => [r.status, r.body.seq])).toEqual(
      expect.arrayContaining([
        [201, 2],
        [201, 3],
      ]),
    );
  });

  it('stores data as published, byte for byte: no rewriting that could outgrow MAX_MESSAGE_BYTES', async () => {
    const channel = ch();
    // Under 1 KiB as JSON; Postgres jsonb would print each 1e308 as 309 digits (40 KB).
    const data = { big: Array(130).fill(1e308), z: 1, a: 'a\u0000b\ud800', '': [null, false, 0, ''] };
    const text = JSON.stringify(data);
    expect(Buffer.byteLength(text)).toBeLessThan(1024);
    const res = await post(api.url, `/v1/channels/${channel}/messages`, { data });
    expect(res.status).toBe(201);
    const history = await fetch(`${api.url}/v1/channels/${channel}/messages`);
    const raw = await history.text();
    expect(raw).toContain(text);
    expect(raw.length).toBeLessThan(text.length + 300);
    expect(JSON.parse(raw).messages[0].data).toEqual(data);
  });

  it('an empty Last-Event-ID counts as none; a bad one is a 400', async () => {
    const stream = (id: string) =>
      fetch(`${api.url}/v1/channels/${ch()}/stream`, { method: 'HEAD', headers: { 'Last-Event-ID': id } });
    expect((await stream('')).status).toBe(200);
    expect((await stream('x')).status).toBe(400);
  });

  it('answers a request whose headers are too large with 431 in the error shape', async () => {
    const res = await fetch(`${api.url}/v1/channels/x`, { headers: { 'x-big': 'y'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(await res.json()).toEqual(errorBody(431, /exceed/));
  });

  it('answers CONNECT with 405 in the error shape rather than dropping the connection', async () => {
    // Found by test/security/fuzz-rest.test.ts: Node closes a CONNECT no listener takes without an answer.
    const answer = await rawRequest(
      api.port,
      `CONNECT /v1/channels/${ch()}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}`,
    );
    expect(answer.status).toBe(405);
    expect(JSON.parse(answer.body)).toEqual(errorBody(405, /CONNECT is not supported/));
  });

  it('a channel never written has lastSeq 0, and history pages with lastSeq and hasMore', async () => {
    const channel = ch();
    expect((await get(api.url, `/v1/channels/${channel}`)).body).toEqual({ channel, lastSeq: 0 });
    for (let i = 0; i < 5; i++) await post(api.url, `/v1/channels/${channel}/messages`, { data: i });
    const page = await get(api.url, `/v1/channels/${channel}/messages?after=1&limit=2`);
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3]);
    expect(page.body).toMatchObject({ lastSeq: 3, hasMore: true });
    const rest = await get(api.url, `/v1/channels/${channel}/messages?after=3`);
    expect(rest.body).toMatchObject({ lastSeq: 5, hasMore: false });
    const empty = await get(api.url, `/v1/channels/${channel}/poll?after=5&timeout=0`);
    expect(empty.body).toEqual({ messages: [], lastSeq: 5 });
  });

  it('a long poll whose client goes away frees its wait at once', async () => {
    const channel = ch();
    const abort = new AbortController();
    const pending = fetch(`${api.url}/v1/channels/${channel}/poll?timeout=60`, {
      signal: abort.signal,
    }).catch(() => 'aborted');
    await waitForMetric(api, 'squall_hub_subscribers', (n) => n === 1); // the poll is waiting
    abort.abort();
    expect(await pending).toBe('aborted');
    await waitForMetric(api, 'squall_hub_subscribers', (n) => n === 0); // and freed
  });
});
