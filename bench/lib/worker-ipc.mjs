/**
 * The command loop of a forked bench worker (loadgen.mjs, lib/pollgen.mjs):
 * `{id, cmd, args}` over IPC runs `commands[cmd](args)` and answers
 * `{id, ok, result | error}`; `exit` is always a command. The worker exits
 * when its parent goes away, so it can never outlive the bench.
 */
import process from 'node:process';

export function serveCommands(commands) {
  const all = {
    ...commands,
    async exit() {
      setTimeout(() => process.exit(0), 50);
      return true;
    },
  };
  process.on('message', async ({ id, cmd, args }) => {
    try {
      const fn = all[cmd];
      if (!fn) throw new Error(`unknown command ${cmd}`);
      const result = await fn(args ?? {});
      process.send({ id, ok: true, result });
    } catch (err) {
      process.send({ id, ok: false, error: err.stack ?? String(err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
