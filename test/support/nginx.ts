import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from '../../dev/free-port.js';
import { startNginx as runNginx } from '../../dev/nginx.js';

export interface Nginx {
  url: string;
  wsUrl: string;
  /** nginx's error log so far, for failure messages. */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Runs nginx with the project's docker/nginx.conf template rendered in front
 * of `upstreams` (ports on 127.0.0.1), as compose and `npm run cluster` render
 * it: the same balancing, upgrade, retry, limit and timeout rules, only with
 * loopback addresses, a private prefix and fewer workers.
 */
export async function startNginx(
  upstreams: number[],
  {
    serverOptions = 'max_fails=1 fail_timeout=10s',
    maxMessageBytes,
  }: { serverOptions?: string; maxMessageBytes?: number } = {},
): Promise<Nginx> {
  const port = await freePort();
  const dir = resolve(`.squall/nginx-${process.pid}-${port}`);
  rmSync(dir, { recursive: true, force: true });
  try {
    const nginx = await runNginx({ upstreams, dir, port, serverOptions, maxMessageBytes, small: true });
    return {
      url: nginx.url,
      wsUrl: nginx.wsUrl,
      errorLog: nginx.errorLog,
      stop: async () => {
        await nginx.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
