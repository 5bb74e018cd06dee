import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';

/**
 * Opens a WebSocket that the server is expected to refuse during the HTTP
 * upgrade, and resolves with the HTTP answer (status and parsed JSON body).
 * Fails if a socket was accepted instead: a refusal must never be an open
 * connection closed afterwards.
 */
export function refusedUpgrade(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<{ status: number; body: unknown; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('open', () => {
      ws.terminate();
      reject(new Error(`the upgrade to ${url.replace(/token=[^&]+/, 'token=…')} was accepted`));
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        ws.terminate();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON: the assertion on body shows it */
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    ws.on('error', (err) => reject(err));
  });
}
