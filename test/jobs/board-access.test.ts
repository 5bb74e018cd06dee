import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { isolatedEnv } from './support.js';

/** This machine's first non-loopback IPv4 address: a peer on "the container network". */
function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this test needs a non-loopback IPv4 interface');
}

const lan = lanAddress();
let api: Instance;

beforeAll(async () => {
  // Listening on every interface, and trusting proxies on the peer's network,
  // as the old default did for every private range (Docker, Kubernetes).
  api = await startInstance({
    ...(await isolatedEnv()),
    ROLE: 'api',
    HOST: '0.0.0.0',
    TRUST_PROXY: `loopback, ${lan}/32`,
  });
});

afterAll(async () => {
  await stopAllInstances();
});

/** GET /admin/queues from `from` to `to`, with extra headers. */
function board(from: string, to: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: to, port: api.port, path: '/admin/queues', localAddress: from, headers },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('job board access', () => {
  it('answers a client on this machine', async () => {
    expect(await board('127.0.0.1', '127.0.0.1')).toBe(200);
  });

  it('refuses a peer on the network, even one claiming X-Forwarded-For: 127.0.0.1', async () => {
    expect(await board(lan, lan)).toBe(403);
    expect(await board(lan, lan, { 'X-Forwarded-For': '127.0.0.1' })).toBe(403);
  });
});
