import http from 'node:http';
import { once } from 'node:events';
import net from 'node:net';
import { startInstance, stopAllInstances } from '../support/instance.js';

/**
 * Idle kept-alive connections stay open for HTTP_KEEP_ALIVE_TIMEOUT_MS (65 s
 * by default, above balancers' usual 60 s), not Node's 5 s: a long-poll
 * client pausing between polls, or a balancer pooling connections, would
 * otherwise reuse a socket the server is just closing and get a reset.
 */
afterAll(() => stopAllInstances());

/** One GET on a fresh keep-alive socket; resolves with the response and that socket. */
function getKeptAlive(url: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<{ res: http.IncomingMessage; socket: import('node:net').Socket; agent: http.Agent }>(
    (resolve, reject) => {
      const req = http.get(`${url}/health/live`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ res, socket: req.socket!, agent }));
      });
      req.on('error', reject);
    },
  );
}

describe('HTTP keep-alive', () => {
  it('announces and keeps a 65 s idle timeout by default', async () => {
    const app = await startInstance({ ROLE: 'api' });
    const { res, agent } = await getKeptAlive(app.url);
    expect(res.headers.connection).toBe('keep-alive');
    expect(res.headers['keep-alive']).toBe('timeout=65');
    agent.destroy();
  });

  it('closes an idle connection itself once HTTP_KEEP_ALIVE_TIMEOUT_MS has passed', async () => {
    const app = await startInstance({ ROLE: 'api', HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' });
    // A raw socket: Node's own Agent would close it first, reading the server's timeout hint.
    const { port } = new URL(app.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    const answered = new Promise<number>((resolve) =>
      socket.on('data', (chunk: string) => {
        answer += chunk;
        if (answer.includes('\r\n\r\n')) resolve(Date.now());
      }),
    );
    socket.write('GET /health/live HTTP/1.1\r\nHost: squall\r\nConnection: keep-alive\r\n\r\n');
    const closed = once(socket, 'close').then(() => Date.now());
    const at = await answered;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.toLowerCase()).toContain('keep-alive: timeout=1');
    expect((await closed) - at).toBeGreaterThanOrEqual(900);
  });

  it('refuses a timeout outside 1 s to 10 min at start, naming the variable', async () => {
    await expect(startInstance({ ROLE: 'api', HTTP_KEEP_ALIVE_TIMEOUT_MS: '10' })).rejects.toThrow(
      /HTTP_KEEP_ALIVE_TIMEOUT_MS/,
    );
  });
});
