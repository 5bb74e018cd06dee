/**
 * How long the same signal again counts as the first one delivered twice:
 * `npm start` and `npm run` pass a terminal's Ctrl-C on to the process, which
 * the terminal has already sent it to. Shared by runMain and the dev commands.
 */
export const REPEATED_SIGNAL_MS = 1000;
