import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';

/** When the request arrived (performance.now()), kept on its response. */
const STARTED = Symbol('squall.http.started');

/**
 * Requests by route pattern (`/v1/channels/:channel/messages`, never the
 * concrete URL, so the series stay few), method and status, and their
 * duration. A request no route matched counts as route="unmatched". SSE
 * streams and long polls last as long as the client stays: filter them out
 * of latency queries by route.
 */
export function httpMetrics(registry: Registry): RequestHandler {
  const requests = new Counter({
    name: 'squall_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'squall_http_request_duration_seconds',
    help: 'HTTP request duration until the response ended, by method and route pattern',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  // One listener shared by every request, the start kept on the response:
  // no closure, context or once() wrapper per request (a long poll holds its
  // response open for up to a minute, thousands at once).
  function onClose(this: Response & { [STARTED]?: number }) {
    const req = this.req;
    const path = (req.route as { path?: string } | undefined)?.path;
    // Nest answers unknown paths with a catch-all route ({/*splat}).
    const route = typeof path === 'string' && !path.includes('*') ? `${req.baseUrl}${path}` : 'unmatched';
    const status = this.headersSent ? String(this.statusCode) : 'aborted';
    requests.inc({ method: req.method, route, status });
    duration.observe({ method: req.method, route }, (performance.now() - this[STARTED]!) / 1000);
  }
  return (_req: Request, res: Response & { [STARTED]?: number }, next: NextFunction) => {
    res[STARTED] = performance.now();
    // 'close' fires once, also for a client that went away before the answer.
    res.on('close', onClose);
    next();
  };
}
