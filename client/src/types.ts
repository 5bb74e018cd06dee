import type { SquallError } from './errors.js';

/** A channel message, as every transport delivers it (docs/protocol.md). */
export interface Message<T = unknown> {
  channel: string;
  /** Per channel, from 1, +1 for each message, no gaps. */
  seq: number;
  id: string;
  data: T;
  /** ISO 8601. */
  publishedAt: string;
}

/** What a publish is answered with, once the message is committed. */
export interface PublishAck {
  channel: string;
  seq: number;
  id: string;
  /**
   * The idempotency key had already been used on the channel: this is the
   * original message, nothing new was published. Also the case when an earlier
   * attempt of this same publish was applied before its answer was lost.
   */
  duplicate: boolean;
}

export type TransportName = 'websocket' | 'sse' | 'longpoll';

export type JobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

/** A job, as `GET /v1/jobs/:id` answers it (docs/jobs.md). */
export interface Job<Payload = unknown, Result = unknown> {
  id: string;
  type: string;
  state: JobState;
  progress: number;
  payload: Payload | null;
  result: Result | null;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  priority: number;
  delayMs: number;
  idempotencyKey: string | null;
  /** The token `sub` that submitted it; null for a job submitted in open mode. */
  owner: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** Fields left out of an event that would not fit in one message. */
  omitted?: string[];
}

export type JobEventName = 'active' | 'progress' | 'completed' | 'failed' | 'cancelled';

/** One change of a job, from its `job:<id>` channel. */
export interface JobEvent<Payload = unknown, Result = unknown> {
  event: JobEventName;
  job: Job<Payload, Result>;
  /** The event's seq on `job:<id>`. */
  seq: number;
}

/** The events a client emits; listen with `client.on(name, listener)`. */
export interface ClientEvents {
  /** A connection attempt starts. `attempt` counts failures since the last success (0 first). */
  connecting: { transport: TransportName; url: string; attempt: number };
  /** Connected; subscriptions are being resumed. */
  connected: { transport: TransportName; url: string };
  /** The connection ended or could not be made; the next attempt comes after `retryInMs`. */
  disconnected: {
    transport: TransportName;
    url: string;
    reason: string;
    /** The WebSocket close code, when there was one (1001 shutdown, 1006 dropped, 1013 too slow…). */
    code?: number;
    retryInMs: number;
  };
  /** A transport never connected; the client moves on to the next one. */
  fallback: { from: TransportName; to: TransportName; reason: string };
  /**
   * History retention had already removed messages after the seq a
   * subscription resumed from: delivery continues at the oldest retained
   * message, and the ones in between are gone. Reload the state this channel
   * feeds from elsewhere.
   */
  truncated: { channel: string; after: number; firstSeq?: number };
  /** A subscription was refused for good, or a message callback threw. */
  error: { error: unknown; channel?: string };
}

/** Per-subscription events. */
export interface SubscriptionEvents {
  truncated: ClientEvents['truncated'];
  /** The subscription ended for good: the server refused it (`bad_request`…) or the client was closed (`closed`). */
  error: { error: SquallError };
}
