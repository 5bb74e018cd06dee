import type { Registry } from 'prom-client';
import { type InstanceStats, STATS_CHANNEL, SYS_NAMESPACE } from './stats-message.js';

export { STATS_CHANNEL, SYS_NAMESPACE, type InstanceStats };

type Values = { labels: Record<string, string | number>; value: number }[];

/**
 * Reads the few metrics the stats message needs straight from the
 * instance's registry (only those, so the 2-second tick never pays for the
 * default process metrics). A metric the instance's roles do not register
 * (no hub on a pure worker, no queues yet) reads as empty.
 */
export async function readValues(registry: Registry, name: string): Promise<Values> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values as Values;
}

export function total(values: Values): number {
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** BullMQ states that are work not yet finished. */
const PENDING_STATES = new Set(['waiting', 'prioritized', 'delayed', 'active', 'paused']);

export function queueDepth(values: Values): Record<string, number> {
  const depth: Record<string, number> = {};
  for (const { labels, value } of values) {
    if (!PENDING_STATES.has(String(labels.state))) continue;
    const queue = String(labels.queue);
    depth[queue] = (depth[queue] ?? 0) + value;
  }
  return depth;
}

export function byLabel(values: Values, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v.labels[label])] = (out[String(v.labels[label])] ?? 0) + v.value;
  return out;
}
