import { Injectable } from '@nestjs/common';

/**
 * Whether this instance has begun shutting down. Set by bootstrap.ts when the
 * signal arrives, before any module's hook runs, so readiness fails at once
 * (the load balancer stops sending traffic) and new WebSockets are turned
 * away with 1001 instead of being accepted and cut moments later.
 */
@Injectable()
export class Lifecycle {
  shuttingDown = false;
}
