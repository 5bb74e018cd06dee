import type { IncomingMessage, ServerResponse } from 'node:http';

/** The response header naming the instance that answered (behind a balancer, "which one served this?"). */
export const INSTANCE_HEADER = 'X-Squall-Instance';

/**
 * Express middleware that names this instance on every answer, routed or not
 * (404s, errors, health checks): installed first, before anything can answer.
 */
export function instanceHeader(instanceId: string) {
  return (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    res.setHeader(INSTANCE_HEADER, instanceId);
    next();
  };
}
