import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import {
  bearer,
  call,
  checkMatrix,
  httpColumns,
  OLD_SECRET,
  signToken,
  TOKEN_ENV,
  tokenOf,
} from '../support/auth.js';

let a: Instance;
let b: Instance;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const chat = `chat:sec-${run}`;
const news = `news:sec-${run}`;

beforeAll(async () => {
  [a, b] = await Promise.all([startInstance(TOKEN_ENV), startInstance(TOKEN_ENV)]);
  // Something to read on both channels.
  const admin = bearer(await tokenOf('admin'));
  for (const channel of [chat, news]) {
    const res = await call(`${a.url}/v1/channels/${channel}/messages`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { hello: channel } }),
    });
    expect(res.status).toBe(201);
  }
}, 90_000);

afterAll(async () => {
  await stopAllInstances();
});

const getWith = (path: string) => (i: Instance, token?: string) =>
  call(`${i.url}${path}`, { headers: bearer(token) });

describe('HTTP access matrix (token mode, two instances)', () => {
  it('answers every caller × operation cell with the expected status and error', async () => {
    expect(await checkMatrix([a, b], httpColumns(chat, news))).toEqual([]);
  }, 60_000);

  it('accepts a token signed with the previous secret of the list (rotation)', async () => {
    const old = await signToken({ sub: 'alice', subscribe: ['chat:*'] }, { secret: OLD_SECRET });
    expect((await getWith(`/v1/channels/${chat}`)(b, old)).status).toBe(200);
  });

  it('says why a token is refused, without quoting it', async () => {
    const expired = (await tokenOf('expired'))!;
    const answer = await getWith(`/v1/channels/${chat}`)(a, expired);
    expect(answer.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'the token has expired' });
    const res = await fetch(`${a.url}/v1/channels/${chat}`, { headers: bearer(expired) });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const forbidden = await getWith(`/v1/channels/${news}`)(b, await tokenOf('chatUser'));
    expect(forbidden.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: `this token may not read channel ${news}`,
    });
    const wrongType = await signToken({ sub: 'x', subscribe: 'chat:*' });
    expect((await getWith(`/v1/channels/${chat}`)(a, wrongType)).body).toMatchObject({
      statusCode: 401,
      message: expect.stringMatching(/claim subscribe/),
    });
  });

  it('accepts ?token= on GET only: a publish must carry the header', async () => {
    const token = (await tokenOf('chatUser'))!;
    expect((await call(`${a.url}/v1/channels/${chat}?token=${token}`)).status).toBe(200);
    const post = await call(`${a.url}/v1/channels/${chat}/messages?token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: 1 }),
    });
    expect(post.status).toBe(401);
    expect(JSON.stringify(post.body)).not.toContain(token);
  });

  it('keeps health, docs and the dashboard page public', async () => {
    for (const path of ['/health/live', '/health/ready', '/docs/openapi.json', '/', '/metrics']) {
      expect([path, (await call(`${b.url}${path}`)).status]).toEqual([path, 200]);
    }
  });

  it('sends helmet security headers, and the docs keep a CSP they can work under', async () => {
    const res = await fetch(`${a.url}/v1/channels/${chat}`, { headers: bearer(await tokenOf('chatUser')) });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const docs = await fetch(`${a.url}/docs`);
    const csp = docs.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const dashboard = await fetch(`${a.url}/`);
    expect(dashboard.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('job board in token mode', () => {
  it('takes ?token= once, answers with an HttpOnly SameSite=Strict cookie and a clean URL, then the cookie works', async () => {
    const token = (await tokenOf('admin'))!;
    const first = await fetch(`${a.url}/admin/queues?token=${token}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/admin/queues');
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^squall_board=[^;]+; Max-Age=(900|[1-8]\d\d|\d{1,2}); Path=\/admin; HttpOnly; SameSite=Strict$/,
    );
    const pair = cookie.split(';')[0];
    expect((await fetch(`${b.url}/admin/queues`, { headers: { cookie: pair } })).status).toBe(200);
    expect((await fetch(`${b.url}/admin/queues/api/queues`, { headers: { cookie: pair } })).status).toBe(200);
  });

  it('refuses a non-admin token in the URL and a forged cookie', async () => {
    const user = (await tokenOf('chatUser'))!;
    expect((await fetch(`${a.url}/admin/queues?token=${user}`, { redirect: 'manual' })).status).toBe(403);
    const forged = (await tokenOf('badSignature'))!;
    const res = await call(`${a.url}/admin/queues`, { headers: { cookie: `squall_board=${forged}` } });
    expect(res).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: 'the token signature is invalid' },
    });
  });
});
