import { hostname } from 'node:os';
import WebSocket from 'ws';
import { post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { type Nginx, startNginx } from '../support/nginx.js';
import { waitFor } from '../support/wait-for.js';
import { range } from '../support/ws-client.js';

const CLIENTS = 200;
const INSTANCES = 3;
// A restarted instance that nginx marked failed (its drain refused connections)
// is tried again after fail_timeout; 2 s keeps the test short.
const SERVER_OPTIONS = 'max_fails=1 fail_timeout=2s';

/** Instances get the default INSTANCE_ID, hostname:PORT; a restart on the same port keeps it. */
const idOf = (instance: Instance) => `${hostname()}:${instance.port}`;

/**
 * A WebSocket client that resumes as the SDK does, but at once (no backoff,
 * the reconnects that race a drain hardest): on every close it reconnects
 * through nginx and subscribes with `after` = the last seq it saw. It
 * records where each subscription landed (`instance` in `subscribed`), and
 * every connection that did not get that far.
 */
class ResumingClient {
  readonly seen: number[] = [];
  readonly landings: Array<{ instance: string; at: number }> = [];
  /** Upgrades nginx did not complete (no instance took the connection). */
  readonly refused: string[] = [];
  /** Connections accepted but closed, or answered with an error, before `subscribed`: bounced. */
  readonly bounced: string[] = [];
  private socket?: WebSocket;
  private stopped = false;
  private wanted = Infinity;
  private reached?: () => void;
  readonly finished: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly channel: string,
  ) {
    this.finished = this.run();
  }

  /** Resolves once seq `count` (or later) has arrived. */
  until(count: number): Promise<void> {
    this.wanted = count;
    return new Promise((resolve) => {
      this.reached = resolve;
      this.check();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.socket?.close();
    await this.finished;
  }

  private check(): void {
    if ((this.seen.at(-1) ?? 0) >= this.wanted) this.reached?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const refused = await this.connectOnce();
      // A refused upgrade is a failure the test reports; do not spin on it.
      if (refused) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** One connection, until it closes; resolves whether the upgrade was refused. */
  private connectOnce(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      let opened = false;
      let subscribed = false;
      let problem = '';
      socket.on('open', () => {
        opened = true;
        const after = this.seen.at(-1) ?? 0;
        socket.send(JSON.stringify({ event: 'subscribe', data: { channel: this.channel, after }, ref: 's' }));
      });
      socket.on('message', (raw: Buffer) => {
        const frame = JSON.parse(raw.toString()) as { event: string; data: Record<string, unknown> };
        if (frame.event === 'message') {
          this.seen.push(frame.data.seq as number);
          this.check();
        } else if (frame.event === 'subscribed') {
          subscribed = true;
          this.landings.push({ instance: frame.data.instance as string, at: Date.now() });
        } else if (frame.event === 'error' && !subscribed) {
          problem = `error frame ${JSON.stringify(frame.data)}`;
        }
      });
      socket.on('error', (err) => (problem ||= err.message));
      socket.on('close', (code) => {
        if (!opened && !this.stopped) this.refused.push(problem || `closed ${code}`);
        else if (opened && !subscribed && !this.stopped) this.bounced.push(problem || `closed ${code}`);
        resolve(!opened);
      });
    });
  }
}

let instances: Instance[] = [];
let nginx: Nginx;
let clients: ResumingClient[] = [];

beforeAll(async () => {
  instances = await Promise.all(range(1, INSTANCES).map(() => startInstance({ ROLE: 'api,gateway' })));
  nginx = await startNginx(
    instances.map((i) => i.port),
    { serverOptions: SERVER_OPTIONS },
  );
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await nginx?.stop();
  await stopAllInstances();
});

/** Publishes through nginx, retrying with the same idempotencyKey until acknowledged. */
async function publishExactlyOnce(channel: string, i: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await post(nginx.url, `/v1/channels/${channel}/messages`, {
      data: { i },
      idempotencyKey: `m${i}`,
    }).catch(() => undefined);
    if (res?.status === 201 || res?.status === 200) return;
  }
  throw new Error(`publish ${i} never acknowledged`);
}

describe('rolling restart behind nginx (docker/nginx.conf)', () => {
  it(`${INSTANCES} instances restarted one by one under ${CLIENTS} resuming clients: no reconnect lands on a draining instance, every client sees every seq once, in order`, async () => {
    const channel = uniqueChannel('roll');
    clients = range(1, CLIENTS).map(() => new ResumingClient(nginx.wsUrl, channel));
    await waitFor(() => clients.every((c) => c.landings.length === 1), {
      what: `${CLIENTS} clients subscribed`,
      timeoutMs: 30_000,
    });

    // The publisher runs through the whole restart, about 20 messages a second.
    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const pace = new Promise((r) => setTimeout(r, 50));
        await publishExactlyOnce(channel, ++published);
        await pace;
      }
    })();

    const draining: Array<{ instance: string; from: number; to: number }> = [];
    const exits: unknown[] = [];
    const started = Date.now();
    for (let i = 0; i < instances.length; i++) {
      const old = instances[i];
      const window = { instance: idOf(old), from: Date.now(), to: Infinity };
      draining.push(window);
      exits.push(await old.stop('SIGTERM'));
      window.to = Date.now();
      instances[i] = await startInstance({ ROLE: 'api,gateway', PORT: String(old.port) });
      // Before the next drain, nginx sends the restarted instance traffic again
      // (least_conn: it has the fewest connections, once nginx tries it).
      await waitFor(
        async () =>
          (await fetch(`${nginx.url}/health/live`)).headers.get('x-squall-instance') === idOf(instances[i]),
        { what: `nginx to route to the restarted ${idOf(instances[i])}`, timeoutMs: 15_000 },
      );
    }
    const restartMs = Date.now() - started;
    publishing = false;
    await publisher;
    await Promise.all(clients.map((c) => c.until(published)));

    const reconnects = clients.flatMap((c) => c.landings.slice(1));
    const onDraining = reconnects.filter((l) =>
      draining.some((d) => d.instance === l.instance && l.at >= d.from && l.at <= d.to),
    );
    const wrong = clients.filter(
      (c) => c.seen.length !== published || c.seen.some((seq, k) => seq !== k + 1),
    );
    process.stdout.write(
      `[rolling restart] ${INSTANCES} instances in ${restartMs} ms, ${published} messages, ` +
        `${reconnects.length} reconnects over ${new Set(reconnects.map((l) => l.instance)).size} instances\n`,
    );
    // One comparison, so that a failure shows everything at once.
    expect({
      exits,
      landedOnDraining: onDraining.slice(0, 5),
      bounced: clients.flatMap((c) => c.bounced).slice(0, 5),
      refused: clients.flatMap((c) => c.refused).slice(0, 5),
      clientsMissingOrRepeating: wrong
        .slice(0, 3)
        .map((c) => ({ count: c.seen.length, firstWrong: c.seen.find((seq, k) => seq !== k + 1) })),
      // Each instance was drained once, so every client was cut at least once.
      clientsNeverCut: clients.filter((c) => c.landings.length < 2).length,
    }).toEqual({
      exits: range(1, INSTANCES).map(() => ({ code: 0, signal: null })),
      landedOnDraining: [],
      bounced: [],
      refused: [],
      clientsMissingOrRepeating: [],
      clientsNeverCut: 0,
    });
    expect(published).toBeGreaterThan(20);
  }, 90_000);
});
