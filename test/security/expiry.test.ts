import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { SseClient } from '../support/sse-client.js';
import { bearer, call, signToken, TOKEN_ENV } from '../support/auth.js';

let instance: Instance;
const channel = `chat:expiry-${Date.now().toString(36)}`;

beforeAll(async () => {
  instance = await startInstance(TOKEN_ENV);
}, 60_000);

afterAll(async () => {
  await stopAllInstances();
});

/** A chat token valid for `seconds` more (exp has one-second resolution), and its exp in ms. */
async function shortToken(seconds: number): Promise<{ token: string; expMs: number }> {
  const token = await signToken({ sub: 'alice', subscribe: ['chat:*'] }, { ttlSeconds: seconds });
  const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number };
  return { token, expMs: exp.exp * 1000 };
}

describe('access ends with the token', () => {
  it('ends an SSE stream at exp (the client reconnects with a fresh token)', async () => {
    const { token, expMs } = await shortToken(3);
    const sse = await SseClient.open(`${instance.url}/v1/channels/${channel}/stream?token=${token}`);
    expect(sse.status).toBe(200);
    await sse.ended;
    const endedAt = Date.now();
    expect(endedAt).toBeGreaterThanOrEqual(expMs - 50);
    expect(endedAt).toBeLessThan(expMs + 2000);
    expect(sse.comments).toContain('token expired');
    // The same token is now refused; a fresh one resumes.
    expect((await call(`${instance.url}/v1/channels/${channel}/stream?token=${token}`)).status).toBe(401);
  });

  it('answers a long poll at exp with what it has, not at its timeout', async () => {
    const { token, expMs } = await shortToken(2);
    const started = Date.now();
    const res = await call(`${instance.url}/v1/channels/${channel}/poll?timeout=30`, {
      headers: bearer(token),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ messages: [] });
    expect(Date.now()).toBeGreaterThanOrEqual(expMs - 50);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
