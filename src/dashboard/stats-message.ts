/**
 * The stats message, shared by the instances that publish it (stats.ts) and
 * the dashboard script that reads it (web/main.ts): no imports, so the
 * browser bundle takes it as it is.
 */

/** The namespace the stats publisher claims: only it writes `sys:` channels. */
export const SYS_NAMESPACE = 'sys';

/** The channel every instance publishes its live counts to (in the claimed `sys` namespace). */
export const STATS_CHANNEL = `${SYS_NAMESPACE}:stats`;

/** One instance's counts, as published on {@link STATS_CHANNEL}; the dashboard's instances panel reads these. */
export interface InstanceStats {
  instance: string;
  roles: string[];
  at: string;
  intervalMs: number;
  connections: Record<string, number>;
  subscriptions: number;
  /** Messages per second over the last interval: committed by this instance (in) and handed to its subscribers (out). */
  messagesInPerSec: number;
  messagesOutPerSec: number;
  pendingLongPolls: number;
  /** Waiting, delayed and active jobs per queue (one queue per job type); empty where Redis did not answer. */
  queueDepth: Record<string, number>;
}
