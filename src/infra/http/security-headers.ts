import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/**
 * helmet's headers on every HTTP answer (nosniff, frame-ancestors, HSTS,
 * referrer policy...). Its default Content-Security-Policy suits the pages
 * Squall serves: Swagger UI at /docs and the job board load scripts from
 * this origin only, with inline styles (and the board Google's fonts, which
 * helmet's `https:` style and font sources allow); the dashboard sets its
 * own, stricter policy. `upgrade-insecure-requests` is left out: it would
 * send a plain-HTTP deployment's (or a developer's) subresources to https.
 */
const helmetMiddleware = () =>
  helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });

type HeaderOp = readonly [name: string, value: string | undefined];

/**
 * What helmet does to a response, recorded once: with these options every
 * header it sets is the same for every request (no directive is a function
 * of the request), so replaying the list costs a few setHeader calls instead
 * of helmet's chain of a dozen middlewares per request.
 */
export function recordHelmet(): HeaderOp[] {
  const ops: [string, string | undefined][] = [];
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      ops.push([name, String(value)]);
      return res;
    },
    removeHeader: (name: string) => {
      ops.push([name, undefined]);
    },
  };
  let called = false;
  helmetMiddleware()({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    called = true;
  });
  // helmet answers synchronously; anything else would mean the recording is partial.
  if (!called) throw new Error('helmet did not finish synchronously: cannot precompute its headers');
  return ops;
}

/** Express middleware setting helmet's headers (see {@link recordHelmet}). */
export function securityHeaders() {
  const ops = recordHelmet();
  return (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    for (const [name, value] of ops) {
      if (value === undefined) res.removeHeader(name);
      else res.setHeader(name, value);
    }
    next();
  };
}
