import { Injectable } from '@nestjs/common';

/**
 * Whether this instance has begun shutting down, and the first steps of that
 * shutdown. bootstrap.ts calls {@link beginShutdown} when the signal arrives,
 * before any module's hook runs. The order matters behind a load balancer:
 *
 * 1. stop accepting connections (the listening socket closes, so the
 *    balancer's next attempt is refused and goes to another instance at once,
 *    and kept-alive connections close after their current answer);
 * 2. fail readiness (`/health/ready` 503) and turn away what still arrives;
 * 3. only then (the modules' shutdown hooks) close WebSockets with 1001, so
 *    the clients' reconnects cannot land here again.
 */
@Injectable()
export class Lifecycle {
  shuttingDown = false;
  private readonly stoppers: Array<() => void> = [];

  /** Registers a way this instance takes new connections, to be stopped first on shutdown. */
  onStopAccepting(stop: () => void): void {
    this.stoppers.push(stop);
  }

  beginShutdown(): void {
    if (this.shuttingDown) return;
    for (const stop of this.stoppers) stop();
    this.shuttingDown = true;
  }
}
