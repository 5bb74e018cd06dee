import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { bearer, call, tokenOf, TOKEN_ENV } from '../support/auth.js';

afterAll(async () => {
  await stopAllInstances();
});

/** Starts an instance that must refuse to start; answers its exit code and output. */
async function refused(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const instance = await startInstance(env, { ready: false });
  const { code } = await instance.exited;
  return { code, output: instance.output().trim() };
}

describe('authentication modes at start', () => {
  it('refuses to start open in production without AUTH_MODE=open, in one line', async () => {
    const { code, output } = await refused({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(output.split('\n')).toHaveLength(1);
    expect(output).toMatch(
      /^squall: invalid configuration: AUTH_JWT_SECRET or AUTH_JWKS_URL is required when NODE_ENV=production/,
    );
  });

  it('refuses AUTH_MODE=token without a key, and a short secret without printing it', async () => {
    expect(await refused({ AUTH_MODE: 'token' })).toEqual({
      code: 1,
      output:
        'squall: invalid configuration: AUTH_MODE token needs AUTH_JWT_SECRET or AUTH_JWKS_URL (got "token")',
    });
    const short = await refused({ AUTH_JWT_SECRET: 'only-twenty-chars-xx' });
    expect(short.code).toBe(1);
    expect(short.output).toMatch(/AUTH_JWT_SECRET must be a comma list of secrets of at least 32 characters/);
    expect(short.output).not.toContain('only-twenty-chars-xx');
  });

  it('starts open in production when AUTH_MODE=open says so, with a loud warning', async () => {
    const open = await startInstance({ NODE_ENV: 'production', AUTH_MODE: 'open' });
    expect(open.output()).toContain('AUTHENTICATION IS OFF (open mode)');
    const res = await call(`${open.url}/v1/channels/chat:open-mode/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: 'anyone' }),
    });
    expect(res.status).toBe(201);
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  let instance: Instance;
  const METRICS_TOKEN = 'scrape-token-0123456789';

  beforeAll(async () => {
    instance = await startInstance({ ...TOKEN_ENV, METRICS_TOKEN });
  }, 60_000);

  it('answers the scraper holding it, nobody else (a user JWT included)', async () => {
    const metrics = (headers: Record<string, string>) => call(`${instance.url}/metrics`, { headers });
    expect((await metrics({})).status).toBe(401);
    expect((await metrics(bearer('scrape-token-0123456780'))).status).toBe(401);
    expect((await metrics(bearer(await tokenOf('admin')))).status).toBe(401);
    const ok = await metrics(bearer(METRICS_TOKEN));
    expect(ok.status).toBe(200);
    expect(String(ok.body)).toContain('squall_');
  });
});
