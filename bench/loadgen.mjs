/**
 * A load-generator worker, forked by bench/run.mjs (child_process.fork). It
 * holds WebSocket clients (Squall's frames, or Socket.IO for the reference
 * server) and REST publishers for one slice of a scenario (long polls have
 * their own worker, lib/pollgen.mjs), from the loopback source
 * addresses it is given, and answers commands over IPC:
 * `{id, cmd, args}` → `{id, ok, result | error}`. It exits when its parent
 * goes away, so it can never outlive the bench.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { io as ioClient } from 'socket.io-client';
import WebSocket from 'ws';
import { freshCounters } from './lib/counters.mjs';
import { Histogram } from './lib/hist.mjs';
import { serveCommands } from './lib/worker-ipc.mjs';

const now = () => performance.timeOrigin + performance.now();

let conns = [];
let latency = {}; // target label -> Histogram of publish→delivery ms
let counters = freshCounters();

function sample(list, item, max = 5) {
  if (list.length < max) list.push(item);
}

/** Runs `fn(i)` for i in [0, n) with at most `limit` in flight. */
async function pool(n, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Resolves the request waiting for `ref`, if any; true when there was one. */
function settle(conn, ref, frame, recv) {
  const p = ref === undefined ? undefined : conn.pending.get(ref);
  if (!p) return false;
  conn.pending.delete(ref);
  p(frame, recv);
  return true;
}

/** The connection ended: counts it unless we closed it, and answers every request still waiting. */
function ended(conn, code) {
  if (conn.closed) return;
  conn.closed = true;
  conn.closedCode = code;
  if (!conn.intentional) counters.unexpectedCloses[code] = (counters.unexpectedCloses[code] ?? 0) + 1;
  for (const p of conn.pending.values()) p({ event: 'closed', data: { code } }, now());
  conn.pending.clear();
  conn.closedResolve?.();
}

/**
 * One client connection with request/response by ref. Both protocols give the
 * same shape: `send(event, data, ref)`, `isOpen()`, `close()`, `terminate()`;
 * replies arrive as Squall-style frames `{event, data}`.
 */
function connect(url, localAddress, { onMessage, protocol = 'ws' } = {}) {
  return protocol === 'socketio'
    ? connectSocketIo(url, localAddress, onMessage)
    : connectWs(url, localAddress, onMessage);
}

/** A connection's bookkeeping (pending requests by ref, close state) plus its protocol's methods. */
function newConn(url, localAddress, methods) {
  return { url, localAddress, pending: new Map(), refs: 0, intentional: false, closed: false, ...methods };
}

/** Squall's /v1/ws frames (and the bare `ws` baseline's). */
function connectWs(url, localAddress, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: 30_000 });
    const conn = newConn(url, localAddress, {
      send: (event, data, ref) => ws.send(JSON.stringify({ event, data, ref })),
      isOpen: () => ws.readyState === WebSocket.OPEN,
      close: () => ws.close(1000),
      terminate: () => ws.terminate(),
    });
    ws.on('message', (raw) => {
      const recv = now();
      let frame;
      try {
        frame = JSON.parse(raw.toString());
      } catch {
        counters.errorFrames++;
        return;
      }
      if (settle(conn, frame.ref, frame, recv)) return;
      if (frame.event === 'error') {
        counters.errorFrames++;
        sample(counters.errorSamples, frame.data);
        return;
      }
      onMessage?.(conn, frame, recv);
    });
    ws.on('error', (err) => {
      conn.lastError = err.message;
      if (ws.readyState !== WebSocket.OPEN) reject(err);
    });
    ws.on('close', (code) => ended(conn, code));
    ws.once('open', () => resolve(conn));
  });
}

/**
 * The Socket.IO reference (bench/baseline-socketio.mjs): events with ack
 * callbacks, mapped back to the frames the ws path sees (subscribe →
 * `subscribed`, publish → `ack`, `{error}` → `error`). socket.io-client hands
 * `localAddress` and `perMessageDeflate` through engine.io-client to its `ws`
 * WebSocket (engine.io-client transports/websocket.js picks them from the
 * options), so source addresses work as for the ws path. WebSocket transport
 * only, no reconnection (a drop must show as an unexpected close), a manager
 * per connection (forceNew), as many separate clients would have.
 */
function connectSocketIo(url, localAddress, onMessage) {
  return new Promise((resolve, reject) => {
    const socket = ioClient(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 30_000,
      localAddress,
      perMessageDeflate: false,
    });
    const replies = { subscribe: 'subscribed', publish: 'ack' };
    const conn = newConn(url, localAddress, {
      send: (event, data, ref) =>
        socket.emit(event, data, (reply) => {
          const frame = reply?.error
            ? { event: 'error', data: reply.error }
            : { event: replies[event] ?? event, data: reply };
          settle(conn, ref, frame, now());
        }),
      isOpen: () => socket.connected,
      close: () => socket.disconnect(),
      terminate: () => socket.disconnect(),
    });
    socket.on('message', (message) => onMessage?.(conn, { event: 'message', data: message }, now()));
    socket.once('connect', () => resolve(conn));
    socket.on('connect_error', (err) => {
      conn.lastError = err.message;
      socket.disconnect();
      reject(err);
    });
    socket.on('disconnect', (reason) => ended(conn, reason));
  });
}

function request(conn, event, data) {
  const ref = `r${++conn.refs}`;
  return new Promise((resolve) => {
    conn.pending.set(ref, (frame, recv) => resolve({ frame, recv }));
    conn.send(event, data, ref);
  });
}

function onSubscriberMessage(conn, frame, recv) {
  if (frame.event !== 'message') return;
  const m = frame.data;
  counters.delivered++;
  if (counters.firstRecv === null) counters.firstRecv = recv;
  counters.lastRecv = recv;
  if (conn.lastSeq !== undefined) {
    if (m.seq <= conn.lastSeq) counters.duplicates++;
    else if (m.seq !== conn.lastSeq + 1) counters.gaps += m.seq - conn.lastSeq - 1;
  }
  if (m.seq > (conn.lastSeq ?? 0)) conn.lastSeq = m.seq;
  const ts = m.data?.ts;
  if (typeof ts === 'number') (latency[conn.label] ??= new Histogram()).record(recv - ts);
}

const commands = {
  /** Opens `count` subscribed connections; returns how many made it and how fast. */
  async open({
    targets,
    count,
    channel,
    channelPrefix,
    channelMod,
    channelOffset = 0,
    addrs,
    concurrency = 100,
  }) {
    const started = now();
    let opened = 0;
    let failed = 0;
    const errors = [];
    await pool(count, concurrency, async (i) => {
      const target = targets[i % targets.length];
      const addr = addrs[i % addrs.length];
      const ch = channel ?? `${channelPrefix}${(channelOffset + i) % channelMod}`;
      try {
        const conn = await connect(target.url, addr, {
          onMessage: onSubscriberMessage,
          protocol: target.protocol,
        });
        conn.label = target.label;
        conns.push(conn);
        const { frame } = await request(conn, 'subscribe', { channel: ch });
        if (frame.event !== 'subscribed') throw new Error(`subscribe answered ${JSON.stringify(frame)}`);
        conn.lastSeq = frame.data.lastSeq;
        opened++;
      } catch (err) {
        failed++;
        sample(errors, `${addr}→${target.url}: ${err.message}`);
      }
    });
    return { opened, failed, errors, ms: now() - started };
  },

  count() {
    return {
      delivered: counters.delivered,
      open: conns.filter((c) => c.isOpen()).length,
    };
  },

  reset() {
    latency = {};
    const keep = counters;
    counters = freshCounters();
    // Loss/ordering evidence is kept across a reset: it matters whenever it happened.
    counters.gaps = keep.gaps;
    counters.duplicates = keep.duplicates;
    counters.unexpectedCloses = keep.unexpectedCloses;
    counters.errorFrames = keep.errorFrames;
    counters.errorSamples = keep.errorSamples;
    return true;
  },

  stats() {
    const open = conns.filter((c) => c.isOpen()).length;
    return {
      latency: Object.fromEntries(Object.entries(latency).map(([k, h]) => [k, h.toJSON()])),
      counters,
      open,
      total: conns.length,
    };
  },

  /** Closes every connection this worker holds (normal close, then terminate stragglers). */
  async closeAll() {
    const list = conns;
    conns = [];
    await Promise.all(
      list.map(
        (c) =>
          new Promise((resolve) => {
            c.intentional = true;
            if (c.closed) return resolve();
            const t = setTimeout(() => {
              c.terminate();
              resolve();
            }, 10_000);
            c.closedResolve = () => {
              clearTimeout(t);
              resolve();
            };
            c.close();
          }),
      ),
    );
    const result = { closed: list.length, counters };
    latency = {};
    counters = freshCounters();
    return result;
  },

  /** Publishes `count` messages at `rate`/s on one connection, each with its send time; waits for every ack. */
  async publish({ url, protocol, channel, count, rate, addr, padBytes = 64 }) {
    const conn = await connect(url, addr, { protocol });
    conn.intentional = true;
    const pad = 'x'.repeat(padBytes);
    const acks = new Histogram();
    let acked = 0;
    const errors = [];
    const interval = 1000 / rate;
    const start = now();
    let firstSend = null;
    let lastSend = null;
    const waits = [];
    for (let i = 0; i < count; i++) {
      const due = start + i * interval;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      const ts = now();
      firstSend ??= ts;
      lastSend = ts;
      waits.push(
        request(conn, 'publish', { channel, data: { ts, n: i, pad } }).then(({ frame, recv }) => {
          if (frame.event === 'ack') {
            acked++;
            acks.record(recv - ts);
          } else sample(errors, frame);
        }),
      );
    }
    await Promise.race([Promise.all(waits), sleep(60_000)]);
    conn.close();
    return {
      sent: count,
      acked,
      errors,
      ack: acks.toJSON(),
      firstSend,
      lastSend,
      sendSpanMs: lastSend - firstSend,
    };
  },

  /** `connections` publishers, each sending sequentially (await ack) for `durationMs`. */
  /** `rotate`: connection j walks through all `channels` (j, j + connections, ...) instead of keeping channels[j]. */
  async publishLoop({
    url,
    protocol,
    channels,
    connections,
    durationMs,
    addrs,
    padBytes = 64,
    rotate = false,
  }) {
    const list = [];
    for (let j = 0; j < connections; j++) {
      const c = await connect(url, addrs[j % addrs.length], { protocol });
      c.intentional = true;
      list.push(c);
    }
    const pad = 'x'.repeat(padBytes);
    const acks = new Histogram();
    let acked = 0;
    let failed = 0;
    const errors = [];
    const start = now();
    const end = start + durationMs;
    await Promise.all(
      list.map(async (c, j) => {
        let n = 0;
        while (now() < end && c.isOpen()) {
          const channel = channels[(rotate ? j + n * connections : j) % channels.length];
          const ts = now();
          const { frame, recv } = await request(c, 'publish', { channel, data: { ts, n: n++, pad } });
          if (frame.event === 'ack') {
            acked++;
            acks.record(recv - ts);
          } else {
            failed++;
            sample(errors, frame);
          }
        }
      }),
    );
    const elapsedMs = now() - start;
    for (const c of list) c.close();
    return { acked, failed, errors, ack: acks.toJSON(), elapsedMs };
  },

  /**
   * The REST twin of publishLoop: `connections` clients, client j POSTing to
   * channels[j] and awaiting each answer (201) before the next, for
   * `durationMs`, over keep-alive HTTP/1.1 (one socket per client, from the
   * worker's source addresses). node:http, not fetch: fetch costs this
   * process several times the CPU per request, which on a small machine
   * turned the REST figure into a measure of the client.
   */
  async restPublishLoop({ base, channels, connections, durationMs, addrs, padBytes = 64 }) {
    const u = new URL(base);
    const pad = 'x'.repeat(padBytes);
    const own = addrs.map(
      (addr) => new http.Agent({ keepAlive: true, maxSockets: connections, localAddress: addr }),
    );
    const post = (agent, path, body) =>
      new Promise((resolve) => {
        const req = http.request(
          {
            host: u.hostname,
            port: u.port,
            path,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode, text }));
            res.on('error', (err) => resolve({ status: 0, text: err.message }));
          },
        );
        req.on('error', (err) => resolve({ status: 0, text: err.message }));
        req.end(body);
      });
    const answers = new Histogram();
    let ok = 0;
    let failed = 0;
    const errors = [];
    const start = now();
    const end = start + durationMs;
    await Promise.all(
      Array.from({ length: connections }, async (_, j) => {
        const path = `/v1/channels/${encodeURIComponent(channels[j % channels.length])}/messages`;
        let n = 0;
        while (now() < end) {
          const ts = now();
          const { status, text } = await post(
            own[j % own.length],
            path,
            JSON.stringify({ data: { ts, n: n++, pad } }),
          );
          if (status === 201) {
            ok++;
            answers.record(now() - ts);
          } else {
            failed++;
            sample(errors, `REST publish answered ${status}: ${text.slice(0, 300)}`);
          }
        }
      }),
    );
    const elapsedMs = now() - start;
    for (const a of own) a.destroy();
    return { ok, failed, errors, answers: answers.toJSON(), elapsedMs };
  },
};

serveCommands(commands);
