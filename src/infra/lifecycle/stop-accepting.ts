import type { Server, ServerResponse } from 'node:http';

/**
 * Returns a function that stops `server` taking new work, for the start of a
 * graceful shutdown: the listening socket closes (new connections are
 * refused, which a load balancer retries elsewhere at once), idle kept-alive
 * connections close, and every connection still busy closes after its
 * current answer. Node's own `server.close()` keeps a busy kept-alive
 * connection open for further requests: a balancer that pools connections
 * (nginx `keepalive`) would go on sending new requests, WebSocket upgrades
 * included, to an instance that is draining.
 *
 * Call it before the server starts listening, so every request is seen.
 */
export function stopAcceptingOn(server: Server): () => void {
  const inFlight = new Set<ServerResponse>();
  let stopped = false;
  const closeWhenDone = (res: ServerResponse) => {
    // Answers not yet begun say `Connection: close`; one already under way
    // (a stream) promised keep-alive, so its connection is closed once idle.
    if (!res.headersSent) res.shouldKeepAlive = false;
    else res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
  };
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (stopped) return closeWhenDone(res);
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return () => {
    if (stopped) return;
    stopped = true;
    // Also closes the idle connections (Node 19+). Nest's own close later
    // waits for the rest of the connections to end.
    server.close();
    for (const res of inFlight) closeWhenDone(res);
    inFlight.clear();
  };
}
