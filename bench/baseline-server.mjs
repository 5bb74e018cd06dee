/**
 * The bench's baseline: the smallest honest server that speaks the same
 * frames as Squall's /v1/ws (subscribe → subscribed, publish → ack, message
 * fan-out, ping → pong) plus a trivial long poll and REST publish, with
 * in-memory fan-out and no persistence, no Redis, no framework. Each message
 * is serialised once, as Squall does. Started by bench/run.mjs; loopback only.
 *
 * GET /metrics exposes `squall_hub_subscribers` (WebSocket subscriptions +
 * pending polls) under Squall's name so the bench reads both the same way.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';
import { WebSocketServer } from 'ws';

const MAX_BUFFERED = 4 * 1024 * 1024;
const channels = new Map(); // name -> { seq, subs: Set<ws>, polls: Set<(msg) => void> }

function channel(name) {
  let ch = channels.get(name);
  if (!ch) {
    ch = { seq: 0, subs: new Set(), polls: new Set() };
    channels.set(name, ch);
  }
  return ch;
}

function publish(name, data) {
  const ch = channel(name);
  const message = {
    channel: name,
    seq: ++ch.seq,
    id: randomUUID(),
    data,
    publishedAt: new Date().toISOString(),
  };
  const json = JSON.stringify(message);
  const frame = `{"event":"message","data":${json}}`;
  for (const ws of ch.subs) {
    if (ws.readyState !== 1) continue;
    ws.send(frame);
    if (ws.bufferedAmount > MAX_BUFFERED) ws.close(1013, 'slow consumer');
  }
  const polls = [...ch.polls];
  ch.polls.clear();
  for (const answer of polls) answer(json, message.seq);
  return { message, json };
}

const reply = (ws, event, data, ref) => {
  if (ws.readyState === 1)
    ws.send(JSON.stringify(ref === undefined ? { event, data } : { event, data, ref }));
};

function sendJson(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function subscriberCount() {
  let n = 0;
  for (const ch of channels.values()) n += ch.subs.size + ch.polls.size;
  return n;
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean); // v1 channels :name [messages|poll]
  if (url.pathname === '/metrics') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`squall_hub_subscribers ${subscriberCount()}\nsquall_ws_connections ${wss.clients.size}\n`);
    return;
  }
  if (parts[0] !== 'v1' || parts[1] !== 'channels' || !parts[2])
    return sendJson(res, 404, { statusCode: 404 });
  const name = decodeURIComponent(parts[2]);
  if (req.method === 'GET' && parts.length === 3)
    return sendJson(res, 200, { channel: name, lastSeq: channel(name).seq });
  if (req.method === 'POST' && parts[3] === 'messages') {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        const { json } = publish(name, JSON.parse(body).data);
        sendJson(res, 201, json);
      } catch {
        sendJson(res, 400, { statusCode: 400 });
      }
    });
    return;
  }
  if (req.method === 'GET' && parts[3] === 'poll') {
    const ch = channel(name);
    const after = Number(url.searchParams.get('after') ?? 0);
    const timeout = Number(url.searchParams.get('timeout') ?? 25) * 1000;
    if (ch.seq > after)
      return sendJson(res, 200, `{"messages":[],"lastSeq":${ch.seq},"note":"baseline keeps no history"}`);
    let done = false;
    const answer = (json, seq) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sendJson(res, 200, `{"messages":[${json ?? ''}],"lastSeq":${seq ?? ch.seq}}`);
    };
    const timer = setTimeout(() => {
      ch.polls.delete(answer);
      answer(undefined, undefined);
    }, timeout);
    ch.polls.add(answer);
    res.on('close', () => {
      done = true;
      clearTimeout(timer);
      ch.polls.delete(answer);
    });
    return;
  }
  sendJson(res, 404, { statusCode: 404 });
});

const wss = new WebSocketServer({
  server,
  path: '/v1/ws',
  perMessageDeflate: false,
  maxPayload: 4 * 65536 + 65536,
});
wss.on('connection', (ws) => {
  const mine = new Set();
  ws.on('error', () => undefined);
  ws.on('message', (raw) => {
    let frame;
    try {
      frame = JSON.parse(raw.toString());
    } catch {
      return reply(ws, 'error', { code: 'bad_request', message: 'frame is not valid JSON' });
    }
    const { event, data = {}, ref } = frame;
    switch (event) {
      case 'subscribe': {
        const ch = channel(data.channel);
        ch.subs.add(ws);
        mine.add(data.channel);
        return reply(ws, 'subscribed', { channel: data.channel, lastSeq: ch.seq }, ref);
      }
      case 'unsubscribe':
        channels.get(data.channel)?.subs.delete(ws);
        mine.delete(data.channel);
        return reply(ws, 'unsubscribed', { channel: data.channel }, ref);
      case 'publish': {
        const { message } = publish(data.channel, data.data);
        return reply(ws, 'ack', { channel: data.channel, seq: message.seq, id: message.id }, ref);
      }
      case 'ping':
        return reply(ws, 'pong', {}, ref);
      default:
        return reply(ws, 'error', { code: 'bad_request', message: `unknown event "${event}"` }, ref);
    }
  });
  ws.on('close', () => {
    for (const name of mine) channels.get(name)?.subs.delete(ws);
  });
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

const shutdown = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
