import type { RequestHandler } from 'express';
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
export const securityHeaders = (): RequestHandler =>
  helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
