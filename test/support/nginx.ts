import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../dev/free-port.js';
import { ensureCommand } from '../../dev/system-command.js';
import { waitFor } from './wait-for.js';

export interface Nginx {
  url: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/**
 * Runs nginx with the project's own docker/nginx.conf in front of `upstreams`
 * (ports on 127.0.0.1): the same balancing, upgrade and timeout rules as the
 * compose topology, only with loopback addresses and a private prefix.
 */
export async function startNginx(upstreams: number[]): Promise<Nginx> {
  const bin = ensureCommand('nginx', {
    debianPackage: 'nginx',
    hint: 'nginx is needed for the scale-out tests: apt-get install nginx (or brew install nginx)',
  });
  const port = await freePort();
  const dir = resolve(`.squall/nginx-${process.pid}-${port}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Workers may run as an unprivileged user when the master is root.
  chmodSync(dir, 0o777);
  let conf = readFileSync('docker/nginx.conf', 'utf8')
    .replace(/^\s*server app\d:3000.*$/gm, '')
    .replace(
      'least_conn;',
      `least_conn;\n${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=10s;`).join('\n')}`,
    )
    .replace('listen 80;', `listen 127.0.0.1:${port};`)
    .replace(/worker_rlimit_nofile \d+;/, 'worker_rlimit_nofile 8192;')
    .replace('worker_processes auto;', `worker_processes 1;\npid ${dir}/nginx.pid;`)
    .replace('access_log /dev/stdout squall;', 'access_log off;')
    .replace('error_log /dev/stderr warn;', `error_log ${dir}/error.log warn;`)
    .replace(
      'server_tokens off;',
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((t) => `${t}_temp_path ${dir}/${t};`)
        .concat('server_tokens off;')
        .join('\n  '),
    );
  conf = conf.replace('worker_connections 16384;', 'worker_connections 4096;');
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child: ChildProcess = spawn(
    bin,
    ['-p', dir, '-e', `${dir}/error.log`, '-c', confPath, '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const errorLog = () => {
    try {
      return readFileSync(`${dir}/error.log`, 'utf8');
    } catch {
      return '';
    }
  };
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited.then(() => (dead = true));
  try {
    await waitFor(
      async () => {
        if (dead) throw new Error(`nginx exited: ${stderr}${errorLog()}`);
        return (await fetch(`${url}/health/live`)).status === 200;
      },
      { what: 'nginx to proxy', timeoutMs: 15_000 },
    );
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    stop: async () => {
      if (!dead) {
        child.kill('SIGQUIT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
