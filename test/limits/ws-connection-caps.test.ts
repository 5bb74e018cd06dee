import type WebSocket from 'ws';
import { clientAddress, from, upgrade } from '../support/limits.js';
import { metric } from '../support/metrics.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';

const PER_KEY = 3;
const LEASE_MS = 2000;

let a: Instance;
let b: Instance;
beforeAll(async () => {
  const env = {
    ROLE: 'api,gateway',
    WS_MAX_CONNECTIONS_PER_KEY: String(PER_KEY),
    WS_MAX_CONNECTIONS_PER_IP: '1000',
    WS_CONNECTION_LEASE_MS: String(LEASE_MS),
    RATE_LIMIT_REDIS_TIMEOUT_MS: '10000',
  };
  [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
});
afterAll(stopAllInstances);

async function open(instance: Instance, address: string): Promise<WebSocket> {
  const answer = await upgrade(instance.wsUrl, from(address));
  if (answer.status !== 101) throw new Error(`upgrade refused: ${JSON.stringify(answer)}`);
  const socket = answer.socket!;
  socket.on('error', () => undefined); // a killed instance resets its sockets
  return socket;
}

describe('WebSocket connections per client, across instances', () => {
  it('caps the sum over two instances with 429 and Retry-After on the upgrade', async () => {
    const address = clientAddress();
    const sockets = [await open(a, address), await open(b, address), await open(a, address)];
    for (const instance of [a, b]) {
      const refused = await upgrade(instance.wsUrl, from(address));
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(refused.body ?? '')).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: `at most ${PER_KEY} open WebSockets per client`,
      });
    }
    expect(
      await metric(b, /^squall_rate_limited_total\{[^}]*limit="ws_connections_per_key"/),
    ).toBeGreaterThan(0);
    // Another client is not affected.
    (await open(b, clientAddress())).close();
    // A closed connection frees its place, on the other instance too.
    sockets[0].close();
    const reopened = await waitFor(
      async () => {
        const answer = await upgrade(b.wsUrl, from(address));
        return answer.socket;
      },
      { what: 'a place freed by a close' },
    );
    for (const s of [...sockets, reopened]) s.close();
  });

  it("stops counting a SIGKILLed instance's connections once its lease ends", async () => {
    const env = {
      ROLE: 'gateway',
      WS_MAX_CONNECTIONS_PER_KEY: String(PER_KEY),
      WS_CONNECTION_LEASE_MS: String(LEASE_MS),
      RATE_LIMIT_REDIS_TIMEOUT_MS: '10000',
    };
    const doomed = await startInstance(env);
    const address = clientAddress();
    for (let i = 0; i < PER_KEY; i++) await open(doomed, address);
    expect((await upgrade(a.wsUrl, from(address))).status).toBe(429);
    await doomed.stop('SIGKILL');
    const killedAt = Date.now();
    const admitted = await waitFor(
      async () => {
        const answer = await upgrade(a.wsUrl, from(address));
        return answer.socket;
      },
      { what: 'the dead instance to stop counting', timeoutMs: 5 * LEASE_MS },
    );
    // Not before the lease could have run out (the last heartbeat was at most a third of it ago).
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_MS / 3);
    admitted.close();
  });
});

describe('WebSocket connections per address', () => {
  it('caps connections from one address with its own message', async () => {
    const single = await startInstance({
      ROLE: 'gateway',
      WS_MAX_CONNECTIONS_PER_KEY: '0',
      WS_MAX_CONNECTIONS_PER_IP: '2',
    });
    const address = clientAddress();
    const sockets = [await open(single, address), await open(single, address)];
    const refused = await upgrade(single.wsUrl, from(address));
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body ?? '')).toMatchObject({
      message: 'at most 2 open WebSockets per address',
    });
    for (const s of sockets) s.close();
    await single.stop();
  });
});
