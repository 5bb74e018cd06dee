import { Gauge, type Registry } from 'prom-client';

export type Transport = 'ws' | 'sse' | 'long_poll';
const TRANSPORTS: Transport[] = ['ws', 'sse', 'long_poll'];

/**
 * `squall_connections{transport}`: open WebSockets, open SSE streams and
 * long polls waiting for a message, in one gauge so a dashboard can stack
 * them. Each transport either counts its own opens and closes (track) or
 * hands over a function that knows the number (source). Every transport is
 * reported, at 0 too, so a series exists before the first client.
 */
export class ConnectionsMetric {
  private static readonly byRegistry = new WeakMap<Registry, ConnectionsMetric>();
  private readonly counts = new Map<Transport, number>(TRANSPORTS.map((t) => [t, 0]));
  private readonly sources = new Map<Transport, () => number>();

  /** The one instance of a registry (the gateway, SSE and long polls share it). */
  static of(registry: Registry): ConnectionsMetric {
    let metric = this.byRegistry.get(registry);
    if (!metric) {
      metric = new ConnectionsMetric(registry);
      this.byRegistry.set(registry, metric);
    }
    return metric;
  }

  private constructor(registry: Registry) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'squall_connections',
      help: 'Open client connections by transport: ws (WebSockets), sse (event streams), long_poll (polls waiting for a message)',
      labelNames: ['transport'],
      registers: [registry],
      collect() {
        for (const t of TRANSPORTS)
          this.set({ transport: t }, self.sources.get(t)?.() ?? self.counts.get(t)!);
      },
    });
  }

  /** Counts one open connection; the returned function closes it (once, however often called). */
  track(transport: Transport): () => void {
    this.counts.set(transport, this.counts.get(transport)! + 1);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.counts.set(transport, this.counts.get(transport)! - 1);
    };
  }

  /** Reports `count()` for the transport at every scrape. */
  source(transport: Transport, count: () => number): void {
    this.sources.set(transport, count);
  }
}
