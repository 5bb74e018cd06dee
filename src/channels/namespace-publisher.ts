import type { ChannelMessage, Envelope } from './envelope.js';
import { namespaceOf } from './channel-name.js';

/** What a publish answers: the message as clients see it, its envelope, and whether it is new. */
export interface Published {
  message: ChannelMessage;
  envelope: Envelope;
  created: boolean;
}

/**
 * The only writer of a claimed namespace (`ChannelsService.claimNamespace`):
 * jobs hold the one for `job:`, the stats publisher the one for `sys:`. No
 * client, admin or other module can publish there; holding this object is
 * the permission, so it is kept private by the module that claimed it.
 */
export interface NamespacePublisher {
  readonly namespace: string;
  /** Same checks and fan-out as a client publish, without the namespace's `clientPublish` rule. */
  publish(channel: string, data: unknown, options?: { idempotencyKey?: string }): Promise<Published>;
  /**
   * Fans out a message the module committed in its own statement (jobs write
   * a job's event in the same statement as the transition it announces, so
   * the channel's order is the job's order): this instance's hub directly,
   * the others through the broker, not awaited.
   */
  announceCommitted(envelope: Envelope): void;
}

/** A claimed namespace's publisher, writing through the channel core's own (private) steps. */
export function namespacePublisher(
  namespace: string,
  commit: (channel: string, data: unknown, idempotencyKey?: string) => Promise<Published>,
  fanOut: (envelope: Envelope) => void,
): NamespacePublisher {
  // A channel outside the namespace is the holder's bug, not a client's input: a plain Error.
  const inside = (channel: string) => {
    if (namespaceOf(channel) !== namespace) {
      throw new Error(`the ${namespace}: publisher cannot write to channel ${channel}`);
    }
  };
  return Object.freeze({
    namespace,
    async publish(channel: string, data: unknown, options: { idempotencyKey?: string } = {}) {
      inside(channel);
      return commit(channel, data, options.idempotencyKey);
    },
    announceCommitted(envelope: Envelope) {
      inside(envelope.channel);
      fanOut(envelope);
    },
  });
}
