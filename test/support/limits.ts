import WebSocket from 'ws';

let lastClient = 0;
/**
 * A client address of its own for one test: instances trust X-Forwarded-For
 * from 127.0.0.1 (TRUST_PROXY=loopback), and in open mode the address is the
 * client key, so each test gets fresh budgets without new instances.
 */
export function clientAddress(): string {
  lastClient++;
  return `10.${process.pid % 250}.${Math.floor(lastClient / 250)}.${lastClient % 250}`;
}

export const from = (address: string) => ({ 'x-forwarded-for': address });

/** An upgrade's outcome: 101 with the open socket, or the refusal's status, Retry-After and body. */
export interface Upgrade {
  status: number;
  socket?: WebSocket;
  retryAfter?: string;
  body?: string;
}

/** Attempts a WebSocket upgrade: the open socket, or the HTTP answer that refused it. */
export function upgrade(url: string, headers: Record<string, string> = {}): Promise<Upgrade> {
  const socket = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body });
      });
    });
    socket.once('error', reject);
  });
}
