import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * The client address of a raw request (a WebSocket upgrade never passes
 * through Express), by the rule Express applies to `req.ip`: `trustProxy`
 * (TRUST_PROXY, a comma list of addresses, subnets or names like `loopback`)
 * names the proxies whose X-Forwarded-For is believed. Without it every
 * client behind the load balancer would share the balancer's address.
 */
export function clientAddressResolver(trustProxy: string): (req: IncomingMessage) => string {
  const trust = proxyaddr.compile(
    trustProxy
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  );
  return (req) => {
    try {
      return proxyaddr(req, trust);
    } catch {
      // A socket already gone has no address left to read.
      return req.socket.remoteAddress ?? 'unknown';
    }
  };
}
