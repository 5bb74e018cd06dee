/**
 * `npm start`: the service on its own dev stack. With DATABASE_URL and
 * REDIS_URL set it uses them and starts nothing else; with either unset it
 * starts an embedded Postgres (data under .squall/, kept across restarts) and
 * a private redis-server, and stops them when the service stops.
 *
 * The two servers run in process groups of their own, so a Ctrl-C (SIGINT to
 * the terminal's foreground group) reaches only this process: the service
 * drains against a stack that is still up, then stops Redis and Postgres.
 */
import { constants } from 'node:os';
import type * as Bootstrap from '../src/bootstrap.js';
import { BackingStack } from './backing-stack.js';

// The service is the production build, dist/ (`npm start` builds it first),
// not a second copy compiled with the dev stack: the path is relative to this
// file both as dev/start.ts and built as dist-dev/start.js. A variable, so
// that the type checker takes the types from src/ and not the untyped build.
const SERVICE = '../dist/bootstrap.js';
const { REPEATED_SIGNAL_MS, runMain } = (await import(SERVICE)) as typeof Bootstrap;

const say = (line: string) => process.stdout.write(`[squall dev] ${line}\n`);

async function start(): Promise<void> {
  const env = { ...process.env };
  const stack = new BackingStack(env, say);
  const stopStack = () => stack.stop();

  // Until runMain has started the service and taken over SIGINT and SIGTERM,
  // those signals would kill this process outright, without the 'exit' event
  // that tells the servers to stop (see spawnServer). While the stack starts,
  // a signal stops it and exits with the status the signal would have given;
  // while the service starts, it is passed on to the service once it is up,
  // to shut down as usual. A second signal (not npm's copy of the first, see
  // runMain) exits at once.
  let phase: 'stack' | 'service' = 'stack';
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const onStartupSignal = (signal: NodeJS.Signals) => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < REPEATED_SIGNAL_MS) return;
      process.exit(128 + constants.signals[signal]);
    }
    first = { signal, at: Date.now() };
    if (phase === 'service') {
      say(`${signal} while the service starts: shutting down once it has`);
      return;
    }
    say(`${signal} while starting: stopping`);
    void stopStack().finally(() => process.exit(128 + constants.signals[signal]));
  };
  // A function, as TypeScript would take `first` for still undefined after an `await`.
  const interrupted = () => first;
  const startupSignals = ['SIGINT', 'SIGTERM'] as const;
  for (const signal of startupSignals) process.on(signal, onStartupSignal);
  // Closing the terminal sends SIGHUP, which the servers, out of the
  // terminal's process group, no longer receive: shut down as on SIGTERM.
  // Ctrl-\ (SIGQUIT) means "now": exit at once; the 'exit' event tells the servers to stop.
  process.on('SIGHUP', () => process.kill(process.pid, 'SIGTERM'));
  process.on('SIGQUIT', () => process.exit(128 + constants.signals.SIGQUIT));

  try {
    await stack.start(() => interrupted() !== undefined);
    if (interrupted()) return; // stopping
  } catch (err) {
    // Stopping on a signal: an interrupted start (initdb gets the Ctrl-C too) is no news.
    if (interrupted()) return;
    process.stderr.write(`squall: ${(err as Error).message}\n`);
    await stopStack();
    process.exit(1);
  }
  say(stack.describe());
  say(`serving on http://localhost:${env.PORT || 3000}`);
  phase = 'service';
  await runMain(env, { afterClose: stopStack });
  // runMain resolves right after installing its own handlers, with no chance
  // for a signal to be dispatched in between.
  for (const signal of startupSignals) process.removeListener(signal, onStartupSignal);
  const pending = interrupted();
  if (pending) process.kill(process.pid, pending.signal);
}

void start();
