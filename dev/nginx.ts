import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as BodyLimit from '../src/infra/http/body-limit.js';
import { freePort } from './free-port.js';
import { type ServerProcess, spawnServer } from './server-process.js';
import { ensureCommand } from './system-command.js';

// The service's own rule, from its build (see start.ts): the path is relative
// to this file both as dev/nginx.ts and built as dist-dev/nginx.js.
const BODY_LIMIT = '../dist/infra/http/body-limit.js';
const { jsonBodyLimit } = (await import(BODY_LIMIT)) as typeof BodyLimit;

/** docker/nginx.conf: the template every topology renders (compose, `npm run cluster`, the tests). */
export const NGINX_TEMPLATE = fileURLToPath(new URL('../docker/nginx.conf', import.meta.url));

/** What compose gives each instance in the upstream: three failures in 10 s take it out for 10 s. */
export const UPSTREAM_SERVER_OPTIONS = 'max_fails=3 fail_timeout=10s';

/**
 * nginx's `client_max_body_size` for MAX_MESSAGE_BYTES: the JSON body an
 * instance reads plus 64 KiB, so the instance answers its own 413 (naming the
 * limit) and nginx never cuts a body the instance would take. The same
 * formula as docker/nginx-body-limit.envsh (a test holds them equal).
 */
export function nginxBodyLimit(maxMessageBytes: number): string {
  return `${Math.ceil((jsonBodyLimit(maxMessageBytes) + 64 * 1024) / 1024)}k`;
}

export interface NginxTopology {
  /** What `listen` takes: `80`, `127.0.0.1:8080`. */
  listen: string;
  /** The api/gateway instances, `host:port` each. */
  upstreams: string[];
  maxMessageBytes: number;
  /** Parameters of each upstream `server` line; {@link UPSTREAM_SERVER_OPTIONS} by default. */
  serverOptions?: string;
}

/** The template's variables (see the head of docker/nginx.conf) for a topology. */
export function templateVariables(topology: NginxTopology): Record<string, string> {
  const options = topology.serverOptions ?? UPSTREAM_SERVER_OPTIONS;
  return {
    SQUALL_LISTEN: topology.listen,
    SQUALL_UPSTREAM_SERVERS: topology.upstreams.map((u) => `server ${u} ${options};`).join('\n    '),
    SQUALL_CLIENT_MAX_BODY_SIZE: nginxBodyLimit(topology.maxMessageBytes),
  };
}

/**
 * Substitutes `$SQUALL_X` and `${SQUALL_X}` as the nginx image's entrypoint
 * does with NGINX_ENVSUBST_FILTER=SQUALL_ (nginx's own `$host` and the like
 * stay). A variable without a value fails here, not as an nginx syntax error.
 */
export function renderTemplate(template: string, variables: Record<string, string>): string {
  return template.replace(
    /\$(?:\{(SQUALL_\w*)\}|(SQUALL_\w*))/g,
    (_whole, braced?: string, bare?: string) => {
      const name = (braced ?? bare)!;
      const value = variables[name];
      if (value === undefined) throw new Error(`docker/nginx.conf: no value for ${name}`);
      return value;
    },
  );
}

/**
 * The rendered template, adapted to run unprivileged out of `dir`: logs and
 * temporary files there instead of /dev/stdout and /var. Only where things
 * go changes; every balancing, proxy and limit rule is the template's. With
 * `small`, fewer workers and descriptors (the test suite runs many at once).
 */
export function localNginxConf(
  topology: NginxTopology,
  dir: string,
  { accessLog, small = false }: { accessLog?: string; small?: boolean } = {},
): string {
  let conf = renderTemplate(readFileSync(NGINX_TEMPLATE, 'utf8'), templateVariables(topology));
  const swap = (from: string, to: string) => {
    // A template change that drops one of these must fail loudly, not run with /var paths.
    if (!conf.includes(from)) throw new Error(`docker/nginx.conf no longer contains "${from}"`);
    conf = conf.replace(from, to);
  };
  swap('error_log /dev/stderr warn;', `error_log ${dir}/error.log warn;`);
  swap('access_log /dev/stdout squall;', accessLog ? `access_log ${accessLog} squall;` : 'access_log off;');
  swap(
    'server_tokens off;',
    ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((t) => `${t}_temp_path ${dir}/${t};`)
      .concat('server_tokens off;')
      .join('\n  '),
  );
  if (small) {
    swap('worker_processes auto;', 'worker_processes 1;');
    conf = conf.replace(/worker_rlimit_nofile \d+;/, 'worker_rlimit_nofile 8192;');
    conf = conf.replace(/worker_connections \d+;/, 'worker_connections 4096;');
  }
  return conf;
}

export interface NginxHandle {
  url: string;
  wsUrl: string;
  port: number;
  server: ServerProcess;
  /** The error log, for failure messages. */
  errorLog(): string;
  stop(): Promise<void>;
}

const HINT = 'no nginx found. Install it (Debian/Ubuntu: apt-get install nginx; macOS: brew install nginx).';

/** `nginx`, installed from Debian's package when missing and possible (as the dev stack does for Redis). */
export function ensureNginx(log: (line: string) => void = () => {}): string {
  return ensureCommand('nginx', { debianPackage: 'nginx', hint: HINT, log });
}

/**
 * Runs nginx on 127.0.0.1 with the rendered template in front of `upstreams`
 * (ports on 127.0.0.1), out of `dir`, in a process group of its own (see
 * spawnServer), and resolves once it proxies `/health/live`.
 */
export async function startNginx(options: {
  upstreams: number[];
  dir: string;
  port?: number;
  maxMessageBytes?: number;
  serverOptions?: string;
  accessLog?: string;
  small?: boolean;
  log?: (line: string) => void;
}): Promise<NginxHandle> {
  const bin = ensureNginx(options.log);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  // As root the workers run as an unprivileged user and write temporary files here.
  chmodSync(dir, 0o777);
  const port = options.port ?? (await freePort());
  const conf = localNginxConf(
    {
      listen: `127.0.0.1:${port}`,
      upstreams: options.upstreams.map((p) => `127.0.0.1:${p}`),
      maxMessageBytes: options.maxMessageBytes ?? 65536,
      serverOptions: options.serverOptions,
    },
    dir,
    { accessLog: options.accessLog, small: options.small },
  );
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const errorLogPath = join(dir, 'error.log');
  writeFileSync(errorLogPath, '');
  const server = spawnServer(
    bin,
    ['-p', dir, '-e', errorLogPath, '-c', confPath, '-g', `daemon off; pid ${dir}/nginx.pid;`],
    // Fast shutdown: by the time nginx stops, the instances behind it have.
    { stopSignal: 'SIGTERM' },
  );
  const errorLog = () => {
    try {
      return readFileSync(errorLogPath, 'utf8') + server.stderr();
    } catch {
      return server.stderr();
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`nginx exited: ${errorLog()}`);
    }
    const status = await fetch(`${url}/health/live`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`nginx did not proxy ${url}/health/live within 15 s: ${errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, port, server, errorLog, stop: server.stop };
}
