import { Inject } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per application instance (not prom-client's global
 * one), so several apps in one process, as tests create them, do not collide.
 */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
export const InjectMetrics = () => Inject(METRICS_REGISTRY);

export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return registry;
}
