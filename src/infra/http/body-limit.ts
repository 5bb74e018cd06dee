/**
 * The largest JSON request body an instance reads: `data` of up to
 * MAX_MESSAGE_BYTES may double when JSON escapes it, and the envelope around
 * it (channel, idempotencyKey...) needs some room. The exact `data` limit is
 * checked by the handler; a balancer in front must allow at least this.
 */
export const jsonBodyLimit = (maxMessageBytes: number): number => maxMessageBytes * 2 + 16 * 1024;
