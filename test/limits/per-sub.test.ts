import { randomBytes } from 'node:crypto';
import { TOKEN_ENV, bearer, signToken } from '../support/auth.js';
import { clientAddress, from } from '../support/limits.js';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';

// With tokens, the client key is the token's `sub`: one budget for a user
// whatever address and instance each request comes from, and another user
// behind the same address has a budget of its own.
const RATE = 2;
const BURST = 4;

let a: Instance;
let b: Instance;
beforeAll(async () => {
  const env = {
    ...TOKEN_ENV,
    ROLE: 'api,gateway',
    RATE_LIMIT_PUBLISH_PER_SEC: String(RATE),
    RATE_LIMIT_PUBLISH_BURST: String(BURST),
    RATE_LIMIT_REDIS_TIMEOUT_MS: '10000',
  };
  [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
});
afterAll(stopAllInstances);

const tokenFor = (sub: string) => signToken({ sub, publish: ['*'], subscribe: ['*'] });

describe('limits per sub', () => {
  it("counts a sub's publishes from several addresses and instances in one budget", async () => {
    const token = await tokenFor(`limits-${randomBytes(4).toString('hex')}`);
    const channel = uniqueChannel('rl');
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 6 * BURST }, (_, i) =>
        post(
          (i % 2 ? b : a).url,
          `/v1/channels/${channel}/messages`,
          { data: i },
          {
            ...bearer(token),
            ...from(clientAddress()),
          },
        ),
      ),
    );
    const elapsedSec = (Date.now() - started) / 1000;
    const accepted = answers.filter((r) => r.status === 201).length;
    expect(answers.filter((r) => r.status !== 201 && r.status !== 429)).toEqual([]);
    expect(accepted).toBeGreaterThanOrEqual(BURST);
    expect(accepted).toBeLessThanOrEqual(BURST + Math.ceil(RATE * elapsedSec));
  });

  it('gives another sub behind the same address its own budget', async () => {
    const address = clientAddress();
    const channel = uniqueChannel('rl');
    const spent = await tokenFor(`limits-${randomBytes(4).toString('hex')}`);
    const statuses = [];
    for (let i = 0; i < BURST + 4; i++) {
      const res = await post(
        a.url,
        `/v1/channels/${channel}/messages`,
        { data: i },
        {
          ...bearer(spent),
          ...from(address),
        },
      );
      statuses.push(res.status);
    }
    expect(statuses).toContain(429);
    const other = await tokenFor(`limits-${randomBytes(4).toString('hex')}`);
    const res = await post(
      b.url,
      `/v1/channels/${channel}/messages`,
      { data: 'x' },
      {
        ...bearer(other),
        ...from(address),
      },
    );
    expect(res.status).toBe(201);
  });
});
