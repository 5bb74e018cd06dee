export { createClient, SquallClient } from './client.js';
export type { ClientOptions, ConnectionState, PublishOptions, Timeouts, TokenSource } from './client.js';
export { Subscription, classify, cursorAfterSubscribe } from './subscription.js';
export type { MessageHandler, SubscribeOptions, Verdict } from './subscription.js';
export { Jobs } from './jobs.js';
export type { ListOptions, SubmitOptions } from './jobs.js';
export { SquallError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export type { FetchLike, WebSocketConstructor, WebSocketLike } from './transports/transport.js';
export type {
  ClientEvents,
  Job,
  JobEvent,
  JobEventName,
  JobState,
  Message,
  PublishAck,
  SubscriptionEvents,
  TransportName,
} from './types.js';
