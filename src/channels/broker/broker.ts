/**
 * Cross-instance fan-out. An instance subscribes only to channels that have
 * local subscribers, so traffic grows with interest, not with instance count.
 * Delivery may be lost or reordered (Redis pub/sub is at-most-once); the hub
 * restores order and fills gaps from Postgres, so a broker only has to be fast.
 */
export interface Broker {
  /** Sends a message's JSON to every instance subscribed to `channel`. */
  publish(channel: string, json: string): Promise<void>;
  /** Resolves once messages for `channel` will reach the handler. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Receives every message for subscribed channels. */
  onMessage(handler: (channel: string, json: string) => void): void;
  /** Called after the broker lost messages (reconnected): the hub catches up from Postgres. */
  onResync(handler: () => void): void;
}

export const BROKER = Symbol('BROKER');
