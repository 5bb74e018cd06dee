/**
 * The bench's second reference: what a NestJS user typically reaches for, a
 * Socket.IO server with the Redis adapter (`@socket.io/redis-adapter`) on the
 * bench's Redis. It implements the operations the idle, fanout and chat
 * scenarios use, with the same payloads as bench/baseline-server.mjs:
 *   emit('subscribe', {channel}, ack)       → joins the room, ack({channel, lastSeq})
 *   emit('publish', {channel, data}, ack)   → room broadcast 'message' {channel, seq, id, data, publishedAt},
 *                                             then ack({channel, seq, id})
 * Bad input is answered ack({error: {code, message}}). The seq per channel is
 * in memory (one process; nothing durable), so the load generator's seq and
 * latency checks work as for the other servers. WebSocket transport only and
 * no permessage-deflate, as the other servers, so the comparison is fair.
 * Every broadcast goes through the adapter (a Redis PUBLISH), as it would with
 * more than one node. Started by bench/lib/socketio-reference.mjs; loopback only.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
const pubClient = new Redis(redisUrl, { lazyConnect: true });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);

const seqs = new Map(); // channel -> last seq

const httpServer = createServer((req, res) => {
  if (req.url === '/metrics') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`squall_ws_connections ${io.engine.clientsCount}\n`);
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(httpServer, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 4 * 65536 + 65536,
  // A key of its own, so nothing else on this Redis hears these broadcasts.
  adapter: createAdapter(pubClient, subClient, { key: 'squallbench-socketio' }),
});

const badRequest = (message) => ({ error: { code: 'bad_request', message } });

io.on('connection', (socket) => {
  socket.on('subscribe', (data, ack) => {
    if (typeof ack !== 'function') return;
    const channel = data?.channel;
    if (typeof channel !== 'string' || !channel) return ack(badRequest('channel must be a non-empty string'));
    socket.join(channel);
    ack({ channel, lastSeq: seqs.get(channel) ?? 0 });
  });
  socket.on('publish', (data, ack) => {
    if (typeof ack !== 'function') return;
    const channel = data?.channel;
    if (typeof channel !== 'string' || !channel) return ack(badRequest('channel must be a non-empty string'));
    const seq = (seqs.get(channel) ?? 0) + 1;
    seqs.set(channel, seq);
    const id = randomUUID();
    io.to(channel).emit('message', {
      channel,
      seq,
      id,
      data: data.data,
      publishedAt: new Date().toISOString(),
    });
    ack({ channel, seq, id });
  });
});

httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});

const shutdown = () => {
  io.close(() => {
    pubClient.disconnect();
    subClient.disconnect();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
