import type { Envelope } from '../envelope.js';

/**
 * What a transport (WebSocket connection, SSE response, long poll) gives the
 * hub. `deliver` is called once per message, in seq order, with no gaps
 * beyond what retention removed; it must not throw and must not block.
 */
export interface Subscriber {
  deliver(envelope: Envelope): void;
  /** The hub gave up on this subscriber (it fell too far behind); the transport should close it. */
  overflow?(): void;
  /**
   * Catch-up pacing: a promise when the transport's send buffer is full
   * enough that a replay should wait for it to drain (it must also settle
   * when the transport closes), otherwise undefined. Live delivery never waits.
   */
  writable?(): Promise<void> | undefined;
}
