import { Counter, type Registry } from 'prom-client';

/**
 * Subscribers dropped for not reading fast enough, by transport: one counter
 * shared by the WebSocket gateway and the SSE controller (whichever registers
 * it first creates it).
 */
export function slowConsumersCounter(registry: Registry): Counter<'transport'> {
  const name = 'squall_slow_consumers_dropped_total';
  return (
    (registry.getSingleMetric(name) as Counter<'transport'> | undefined) ??
    new Counter({
      name,
      help: 'Subscribers closed because their unsent data passed WS_MAX_BUFFERED_BYTES (they resume with after)',
      labelNames: ['transport'],
      registers: [registry],
    })
  );
}
