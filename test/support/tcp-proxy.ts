import { once } from 'node:events';
import net from 'node:net';

/**
 * A TCP proxy a test can stall: while stalled it reads nothing from either
 * side, so bytes wait in the kernel buffers and arrive late but whole, the way
 * a lagging network path or a stalled Redis delivers them. Put it between one
 * instance and Redis to make that instance's hub fall behind Postgres.
 */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(upstreamHost: string, upstreamPort: number): Promise<TcpProxy> {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => {
      const upstream = net.connect(upstreamPort, upstreamHost);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        proxy.sockets.add(from);
        from.pipe(to);
        from.on('error', () => to.destroy());
        from.on('close', () => {
          proxy.sockets.delete(from);
          to.destroy();
        });
        if (proxy.stalled) from.pause();
      }
    });
    return proxy;
  }

  /** A `redis://` URL through this proxy. */
  url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const s of this.sockets) s.resume();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
