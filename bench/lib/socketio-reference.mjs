/**
 * The Socket.IO reference (issue 11: "what NestJS users reach for"): starts
 * bench/baseline-socketio.mjs (Socket.IO + @socket.io/redis-adapter on the
 * bench's Redis) as a fresh process after Squall and the bare `ws` baseline,
 * lets a scenario run its usual `runOne` against it, and prints the extra
 * "vs Socket.IO" table. `--no-socketio` (ctx.socketio === false) skips it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closesText } from '../scenarios/common.mjs';
import { printTable } from './report.mjs';
import { ROOT, startScriptServer } from './stack.mjs';

const version = (pkg) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
};

/** Spawns the Socket.IO server on `infra.redisUrl` and waits for its port. */
export async function startSocketIo(name, infra) {
  const server = await startScriptServer('socketio', name, 'baseline-socketio.mjs', {
    REDIS_URL: infra.redisUrl,
  });
  // socket.io-client adds /socket.io/?EIO=4&transport=websocket itself.
  return { ...server, wsUrl: server.url, protocol: 'socketio' };
}

/**
 * Runs `runOne(server)` on a fresh Socket.IO process, stopped (and its exit
 * recorded) whatever happens. Returns undefined when --no-socketio was given.
 */
export async function withSocketIo(ctx, name, runOne) {
  if (ctx.socketio === false) return undefined;
  const server = await startSocketIo(name, ctx.infra);
  ctx.extraServers.push(server);
  try {
    return await runOne(server);
  } finally {
    ctx.recordStop(server, await server.stop());
  }
}

/** The `sys` that fanout's and chat's runOne take, for one Socket.IO process. */
export function socketioSystem(server) {
  return {
    key: 'socketio',
    targets: [{ url: server.wsUrl, label: 'socketio', protocol: 'socketio' }],
    pubUrl: server.wsUrl,
    protocol: 'socketio',
    pids: [server.pid],
    childrenOf: [],
  };
}

const mb = (kb) => kb / 1024;
const cpuPer1k = (x) => (x.serverCpuS * 1e6) / x.delivered;

/** The rows of each "vs Socket.IO" table: { metric, get(raw), better, ratio: false for text }. */
const METRICS = {
  idle: [
    { metric: 'connections subscribed', get: (x) => x.opened, ratio: false, digits: 0 },
    { metric: 'still open after the idle hold', get: (x) => x.stillOpen, ratio: false, digits: 0 },
    { metric: 'connect+subscribe rate (conn/s)', get: (x) => x.subscribesPerSec, better: 'higher' },
    { metric: 'server CPU while connecting (s)', get: (x) => x.connectCpuS, better: 'lower' },
    { metric: 'RSS before (MiB)', get: (x) => mb(x.rssBeforeKb), better: 'lower' },
    { metric: 'RSS with all idle (MiB)', get: (x) => mb(x.rssAfterKb), better: 'lower' },
    { metric: 'RSS per connection (KiB)', get: (x) => x.rssPerConnKb, better: 'lower' },
    { metric: 'unexpected closes', get: (x) => closesText(x.unexpectedCloses), ratio: false },
  ],
  fanout: [
    { metric: 'subscribers connected', get: (x) => x.opened, ratio: false, digits: 0 },
    { metric: 'deliveries received / expected', get: (x) => `${x.delivered}/${x.expected}`, ratio: false },
    { metric: 'latency p50 (ms)', get: (x) => x.latency.p50, better: 'lower' },
    { metric: 'latency p95 (ms)', get: (x) => x.latency.p95, better: 'lower' },
    { metric: 'latency p99 (ms)', get: (x) => x.latency.p99, better: 'lower' },
    { metric: 'latency max (ms)', get: (x) => x.latency.max, better: 'lower' },
    { metric: 'deliveries/s', get: (x) => x.deliveriesPerSec, better: 'higher' },
    { metric: 'publish ack p50 (ms)', get: (x) => x.publishAck.p50, better: 'lower' },
    { metric: 'server CPU ms / 1k deliveries', get: (x) => x.cpuMsPer1kDeliveries, better: 'lower' },
    { metric: 'gaps / duplicates seen', get: (x) => `${x.gaps}/${x.duplicates}`, ratio: false },
    { metric: 'unexpected closes', get: (x) => closesText(x.unexpectedCloses), ratio: false },
    { metric: 'error frames', get: (x) => x.errorFrames, ratio: false, digits: 0 },
  ],
  chat: [
    { metric: 'subscribers connected', get: (x) => x.opened, ratio: false, digits: 0 },
    { metric: 'deliveries received / expected', get: (x) => `${x.delivered}/${x.expected}`, ratio: false },
    { metric: 'acked publishes/s', get: (x) => x.publishesPerSec, better: 'higher' },
    { metric: 'publish ack p50 (ms)', get: (x) => x.ack.p50, better: 'lower' },
    { metric: 'delivery latency p50 (ms)', get: (x) => x.latency.p50, better: 'lower' },
    { metric: 'delivery latency p99 (ms)', get: (x) => x.latency.p99, better: 'lower' },
    { metric: 'server CPU ms / 1k deliveries', get: cpuPer1k, better: 'lower' },
    { metric: 'gaps / duplicates seen', get: (x) => `${x.gaps}/${x.duplicates}`, ratio: false },
    { metric: 'unexpected closes', get: (x) => closesText(x.unexpectedCloses), ratio: false },
    {
      metric: 'error frames / failed publishes',
      get: (x) => `${x.errorFrames}/${x.publishFailed}`,
      ratio: false,
    },
  ],
};

/** What would make the Socket.IO numbers meaningless (loss, disorder, drops), as the bench reports it for the others. */
function problemsOf(scenario, x) {
  const out = [];
  const p = (text) => out.push(`${scenario} socketio: ${text}`);
  if (scenario === 'idle') {
    if (x.failed) p(`${x.failed} connections failed, e.g. ${x.openErrors[0]}`);
    if (x.stillOpen < x.opened) p(`${x.opened - x.stillOpen} connections closed while idle`);
    return out;
  }
  if (scenario === 'chat' && x.opened < x.expectedSubscribers)
    p(`${x.opened} of ${x.expectedSubscribers} subscribed, e.g. ${x.openErrors[0]}`);
  if (scenario === 'fanout' && x.openErrors.length) p(`subscribe failed, e.g. ${x.openErrors[0]}`);
  if (x.lost > 0) p(`${x.lost} of ${x.expected} deliveries never arrived`);
  if (x.gaps || x.duplicates) p(`${x.gaps} seq gaps, ${x.duplicates} duplicates`);
  if (Object.keys(x.unexpectedCloses).length) p(`unexpected closes ${JSON.stringify(x.unexpectedCloses)}`);
  if (x.errorFrames) p(`${x.errorFrames} error frames, e.g. ${JSON.stringify(x.errorSamples[0])}`);
  if (x.publishFailed) p(`${x.publishFailed} failed publishes, e.g. ${JSON.stringify(x.publishErrors[0])}`);
  if (scenario === 'fanout' && x.publishErrors.length)
    p(`publishes not acked, e.g. ${JSON.stringify(x.publishErrors[0])}`);
  if (scenario === 'chat' && x.acked === 0) p('nothing published');
  return out;
}

/**
 * Prints "<title> — vs Socket.IO" from a scenario's raw results (raw.squall,
 * raw.socketio) and adds its problems to `problems`. Returns the rows with
 * their ratio (squall / socket.io) for the JSON, or undefined when the
 * scenario ran without Socket.IO.
 */
export function reportSocketIo(scenario, title, raw, problems) {
  const metrics = METRICS[scenario];
  if (!metrics || !raw?.socketio || !raw.squall) return undefined;
  problems.push(...problemsOf(scenario, raw.socketio));
  // printTable's second column, headed "socket.io"; the JSON keeps the name.
  const rows = metrics.map(({ get, ...row }) => ({
    ...row,
    squall: get(raw.squall),
    baseline: get(raw.socketio),
  }));
  const notes = [
    `Socket.IO ${version('socket.io')} with @socket.io/redis-adapter ${version('@socket.io/redis-adapter')} on the bench's Redis: one fresh process, started after Squall and the bare ws server were measured, same sizes.`,
    'WebSocket transport only, no permessage-deflate; seq per channel in memory, nothing durable; every room broadcast is also PUBLISHed to Redis by the adapter, as with more than one node.',
    "Server CPU counts the node processes only (not Redis); Squall's column is the same run as the table above.",
  ];
  const printed = printTable(`${title} — vs Socket.IO (ratio = squall / socket.io)`, rows, notes, {
    against: 'socket.io',
  });
  return printed.map(({ baseline, ...r }) => ({ ...r, socketio: baseline }));
}
