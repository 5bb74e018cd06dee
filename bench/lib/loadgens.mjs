/**
 * Forked load-generator processes (bench/loadgen.mjs). Each gets its own
 * loopback source addresses, so no process and no source address holds more
 * than a few thousand sockets.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './stack.mjs';
import { stopChild, track } from './procs.mjs';

export class LoadGen {
  /** `script`: the worker to fork, relative to bench/ (lib/pollgen.mjs for multi-channel long polls). */
  constructor(name, addrs, script = 'loadgen.mjs') {
    this.name = name;
    this.addrs = addrs;
    this.seq = 0;
    this.pending = new Map();
    this.child = fork(join(ROOT, 'bench', script), [], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // A few MB of IPC for latency histograms is fine; give the workers room for 5000 sockets.
      execArgv: ['--max-old-space-size=1024'],
    });
    track(this.child, `loadgen ${name}`);
    this.pid = this.child.pid;
    this.child.on('message', ({ id, ok, result, error }) => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (ok) p.resolve(result);
      else p.reject(new Error(`loadgen ${this.name}: ${error}`));
    });
    this.child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`loadgen ${this.name} exited (${code ?? signal})`));
      }
      this.pending.clear();
    });
  }

  call(cmd, args = {}, timeoutMs = 180_000) {
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`loadgen ${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const fail = (err) => {
        if (!this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`loadgen ${this.name}: ${cmd}: ${err.message}`));
      };
      if (!this.child.connected) return fail(new Error('worker is gone'));
      this.child.send({ id, cmd, args }, (err) => err && fail(err));
    });
  }

  async stop() {
    if (this.child.connected) this.child.send({ id: 0, cmd: 'exit' }, () => undefined);
    return stopChild(this.child, { signal: 'SIGTERM', graceMs: 3000 });
  }
}

/** `n` workers with two source addresses each (127.0.0.2 and up), plus one publisher. */
export function startLoadGens(n) {
  const gens = [];
  for (let i = 0; i < n; i++)
    gens.push(new LoadGen(`g${i}`, [`127.0.0.${2 + 2 * i}`, `127.0.0.${3 + 2 * i}`]));
  const publisher = new LoadGen('pub', ['127.0.0.50']);
  return { gens, publisher };
}

/** Splits `total` into `parts` near-equal integers. */
export function split(total, parts) {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}
