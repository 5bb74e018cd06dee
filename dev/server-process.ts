import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface ServerProcess {
  child: ChildProcess;
  /** The last 8 KiB of the server's stderr (or log file), for error messages. */
  stderr(): string;
  /** Sends `stopSignal` (once) and resolves when the server has exited. */
  stop(): Promise<void>;
}

const STDERR_KEPT = 8192;

/**
 * Spawns a dev-stack server (the postmaster, redis-server) in a process group
 * of its own (`detached`: setsid). A Ctrl-C in a terminal signals the whole
 * foreground process group; in the owner's group the server would stop at the
 * same moment as the service it serves, which then fails against it all
 * through its drain. Out of that group only the owner hears the signal and
 * stops the server when it no longer needs it.
 *
 * Out of the terminal's reach, the server would also outlive an owner that
 * exits without stopping it (a second Ctrl-C, a crash, a shutdown backstop):
 * until it has exited, `stopSignal` is sent to it from the owner's 'exit'
 * event, and the server finishes stopping on its own.
 */
export function spawnServer(
  bin: string,
  args: string[],
  options: Pick<SpawnOptions, 'env' | 'uid' | 'gid'> & {
    stopSignal: NodeJS.Signals;
    /** Where stdout and stderr go (a file, truncated); by default stdout is dropped and stderr kept in memory. */
    logFile?: string;
  },
): ServerProcess {
  const { stopSignal, logFile, ...spawnOptions } = options;
  const log = logFile === undefined ? undefined : openSync(logFile, 'w');
  const child = spawn(bin, args, {
    ...spawnOptions,
    detached: true,
    stdio: log === undefined ? ['ignore', 'ignore', 'pipe'] : ['ignore', log, log],
  });
  if (log !== undefined) closeSync(log);
  let stderr = '';
  // Always read stderr, even once nobody looks at it: a full pipe would block the server's logging.
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_KEPT)));
  const tail = () => {
    if (logFile === undefined) return stderr;
    try {
      return readFileSync(logFile, 'utf8').slice(-STDERR_KEPT);
    } catch {
      return '';
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let signalled = false;
  const signalOnce = () => {
    if (signalled || child.exitCode !== null || child.signalCode !== null) return;
    signalled = true;
    child.kill(stopSignal);
  };
  process.on('exit', signalOnce);
  void exited.then(() => process.removeListener('exit', signalOnce));
  // A spawn failure (no such binary) is reported by the caller's wait for readiness.
  child.once('error', () => undefined);
  return {
    child,
    stderr: tail,
    stop: () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
        return Promise.resolve();
      signalOnce();
      return exited;
    },
  };
}
