import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import fc from 'fast-check';
import WebSocket from 'ws';
import { uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { TestClient } from '../support/ws-client.js';
import {
  ODD_NUMBERS,
  PROTO_KEYS,
  REQUEST_TIMEOUT_MS,
  assertServes,
  deepNesting,
  fuzz,
  hostileString,
  json,
  mutated,
  objectText,
  assertNot5xx,
  printFuzzSummary,
  rawRequest,
  tally,
  wrongType,
} from '../support/fuzz.js';

/**
 * Random and mutated WebSocket frames get an `error` frame (never
 * `internal`) or their normal answer, the connection stays open and keeps
 * answering in order, and the instance logs no error. Only what the protocol
 * itself requires closes a connection: invalid UTF-8 in a text frame (1007)
 * and a frame over the hard ceiling (1009).
 */

const MAX = 1024;
/** The adapter's hard frame ceiling for MAX_MESSAGE_BYTES = MAX (see SquallWsAdapter.maxPayload). */
const CEILING = MAX * 4 + 64 * 1024;
let gw: Instance;
beforeAll(async () => {
  gw = await startInstance({ ROLE: 'api,gateway', MAX_MESSAGE_BYTES: String(MAX) });
});
afterAll(async () => {
  printFuzzSummary('ws');
  await stopAllInstances();
});

interface Sent {
  payload: Buffer;
  binary: boolean;
}

/** A raw connection that records every frame and its close. */
class Conn {
  readonly frames: Array<{ event?: unknown; data?: { code?: unknown }; ref?: unknown }> = [];
  closed?: { code: number };
  private wake = () => undefined as void;
  private probes = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw: Buffer, isBinary: boolean) => {
      if (isBinary) this.frames.push({ event: 'a binary frame from the server' });
      else this.frames.push(JSON.parse(raw.toString()) as Conn['frames'][number]);
      this.wake();
    });
    socket.on('close', (code: number) => {
      this.closed = { code };
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async open(url: string): Promise<Conn> {
    const socket = new WebSocket(url);
    const conn = new Conn(socket);
    await once(socket, 'open');
    return conn;
  }

  /** Sends `frame`, then a ping; resolves with what came back before the pong, or with the close. */
  async exchange(frame: Sent): Promise<{ replies: Conn['frames']; closed?: { code: number } }> {
    const start = this.frames.length;
    const ref = `probe-${++this.probes}`;
    this.socket.send(frame.payload, { binary: frame.binary });
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ event: 'ping', ref }));
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    for (;;) {
      const pong = this.frames.findIndex((f, i) => i >= start && f.event === 'pong' && f.ref === ref);
      if (pong !== -1) return { replies: this.frames.slice(start, pong) };
      if (this.closed) return { replies: this.frames.slice(start), closed: this.closed };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no pong within ${REQUEST_TIMEOUT_MS} ms (a hang)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.terminate();
  }
}

const jsonText = json.map((v) => JSON.stringify(v));
const str = (a: fc.Arbitrary<string>) => a.map((s) => JSON.stringify(s));
const channel = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null).map(() => JSON.stringify(uniqueChannel('fzw'))) },
  str(
    fc.constantFrom('job:1', 'sys:stats', '', 'a b', 'x'.repeat(129), '__proto__', 'constructor', ':', 'é'),
  ),
  str(hostileString),
);
const data = fc.oneof(
  { weight: 3, arbitrary: jsonText },
  deepNesting,
  fc.constantFrom(...ODD_NUMBERS),
  fc.integer({ min: MAX - 40, max: MAX + 40 }).map((n) => JSON.stringify('d'.repeat(n))),
  fc.constantFrom(...PROTO_KEYS).map((k) => `{${JSON.stringify(k)}:{"polluted":1}}`),
);
const after = fc.oneof(
  fc.nat({ max: 5 }).map(String),
  fc.constantFrom('-1', '1.5', '9007199254740992', '"3"', 'null', ...ODD_NUMBERS),
);
const ref = fc.oneof(str(fc.stringMatching(/^[\x20-\x7e]{1,64}$/)), str(hostileString), wrongType);
const frameData = objectText({
  channel,
  after,
  data,
  idempotencyKey: str(fc.stringMatching(/^[\x21-\x7e]{1,8}$/)),
});
const event = fc.oneof(
  { weight: 6, arbitrary: str(fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping')) },
  str(fc.constantFrom('', 'dance', 'x'.repeat(65), ...PROTO_KEYS, 'SUBSCRIBE', 'subscribe ')),
);
const frameText = objectText({
  event,
  data: fc.oneof({ weight: 4, arbitrary: frameData }, deepNesting),
  ref,
});

const text = (s: string | Buffer): Sent => ({ payload: Buffer.from(s), binary: false });

describe('WebSocket fuzzing (open mode)', () => {
  let conn: Conn;
  beforeAll(async () => {
    conn = await Conn.open(gw.wsUrl);
  });
  afterAll(() => conn.close());

  /** One frame: its answers are never `internal`; only invalid UTF-8 (1007) and the ceiling (1009) close. */
  async function check(frame: Sent): Promise<void> {
    const expectClose =
      frame.payload.length > CEILING ? 1009 : !frame.binary && !isUtf8(frame.payload) ? 1007 : undefined;
    const { replies, closed } = await conn.exchange(frame);
    for (const f of replies) {
      if (typeof f.event !== 'string') throw new Error(`a frame without an event: ${JSON.stringify(f)}`);
      if (f.event === 'error' && (f.data?.code === 'internal' || f.data?.code === 'unavailable')) {
        throw new Error(`${String(f.data.code)} error for ${frame.payload.toString().slice(0, 300)}`);
      }
    }
    tally(
      closed
        ? `close ${closed.code}`
        : ((replies.find((f) => f.event !== 'message')?.event as string) ?? 'pong only'),
    );
    if (closed || expectClose) {
      if (closed?.code !== expectClose) {
        throw new Error(
          `expected ${expectClose ? `close ${expectClose}` : 'the connection to stay open'}, got ${closed ? `close ${closed.code}` : 'open'} for ${frame.payload.length} bytes: ${frame.payload.toString().slice(0, 300)}`,
        );
      }
      conn = await Conn.open(gw.wsUrl);
    }
  }

  afterEach(async () => {
    await assertServes(gw);
    // …and over WebSocket: subscribe, publish, receive.
    const client = await TestClient.connect(gw.wsUrl);
    try {
      const ch = uniqueChannel('fzw-ok');
      await client.subscribe(ch);
      const ack = await client.request('publish', { channel: ch, data: { ok: 1 } });
      expect(ack.event).toBe('ack');
      expect((await client.waitForMessages(ch, 1, REQUEST_TIMEOUT_MS))[0].data).toEqual({ ok: 1 });
    } finally {
      client.close();
    }
  });

  it('structured frames: wrong types, inherited-name keys, huge numbers, deep nesting', async () => {
    await fuzz('WS structured frames', frameText, (f) => check(text(f)), 400);
  }, 90_000);

  it('mutated valid frames', async () => {
    const valid = fc.oneof(
      channel.map((c) => `{"event":"subscribe","data":{"channel":${c},"after":0},"ref":"s"}`),
      fc
        .tuple(channel, data)
        .map(
          ([c, d]) =>
            `{"event":"publish","data":{"channel":${c},"data":${d},"idempotencyKey":"k1"},"ref":"p"}`,
        ),
      channel.map((c) => `{"event":"unsubscribe","data":{"channel":${c}}}`),
    );
    await fuzz('WS mutated frames', mutated(valid), (f) => check(text(f)), 300);
  }, 90_000);

  it('binary, empty, invalid UTF-8 and near-ceiling frames', async () => {
    const publishOf = (n: number) =>
      `{"event":"publish","data":{"channel":"fzw-big","data":"${'b'.repeat(n)}"}}`;
    const frame = fc.oneof(
      fc.constant({ payload: Buffer.alloc(0), binary: false }),
      fc.constant({ payload: Buffer.alloc(0), binary: true }),
      fc.uint8Array({ maxLength: 200 }).map((b) => ({ payload: Buffer.from(b), binary: true })),
      // A valid frame sent as binary is read like text.
      frameText.map((f) => ({ payload: Buffer.from(f), binary: true })),
      // Invalid UTF-8 in a text frame: RFC 6455 requires closing with 1007.
      fc
        .tuple(
          frameText,
          fc.constantFrom(
            [0xff],
            [0xc0, 0x80],
            [0xed, 0xa0, 0x80],
            [0xf8, 0x88, 0x80, 0x80, 0x80],
            [0xe2, 0x82],
          ),
          fc.nat(),
        )
        .map(([f, bad, at]) => {
          const b = Buffer.from(f);
          const i = at % (b.length + 1);
          return {
            payload: Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]),
            binary: false,
          };
        }),
      // Around the data limit (payload_too_large, the connection stays open)…
      fc.integer({ min: MAX - 20, max: MAX * 4 }).map((n) => text(publishOf(n))),
      // …and around the frame ceiling (1009 above it).
      fc.integer({ min: -16, max: 16 }).map((d) => text(publishOf(CEILING + d - publishOf(0).length))),
    );
    await fuzz('WS binary, empty, invalid UTF-8 and huge frames', frame, check, 150);
  }, 90_000);
});

describe('WebSocket upgrade fuzzing (open mode)', () => {
  afterEach(() => assertServes(gw));

  it('upgrade requests: paths, queries and handshake headers', async () => {
    const header = fc.oneof(
      fc.constantFrom('websocket', 'WebSocket', 'h2c', '', 'websocket, x').map((v) => `Upgrade: ${v}`),
      fc.constantFrom('Upgrade', 'upgrade, keep-alive', 'close', '').map((v) => `Connection: ${v}`),
      fc
        .constantFrom('dGhlIHNhbXBsZSBub25jZQ==', '', 'short', 'x'.repeat(300), '%%%%')
        .map((v) => `Sec-WebSocket-Key: ${v}`),
      fc.constantFrom('13', '8', '99', '', 'x', '13, 13').map((v) => `Sec-WebSocket-Version: ${v}`),
      fc.constantFrom('chat', '', ',,', 'a b').map((v) => `Sec-WebSocket-Protocol: ${v}`),
      fc
        .constantFrom('permessage-deflate', 'permessage-deflate; client_max_window_bits=99', 'x; y=', ';;')
        .map((v) => `Sec-WebSocket-Extensions: ${v}`),
      fc.constantFrom('http://evil.example', 'null', '', '\u00e9').map((v) => `Origin: ${v}`),
    );
    const valid = [
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ];
    const path = fc.oneof(
      { weight: 3, arbitrary: fc.constant('/v1/ws') },
      fc.constantFrom(
        '/v1/ws/',
        '/v1/WS',
        '/v1/ws?token=x',
        '/v1/ws?token=&token=',
        '/v1//ws',
        '/v1/ws#x',
        '/%',
        '//x',
        '/v1/ws?%zz',
      ),
      fc.string({ unit: 'grapheme-ascii', maxLength: 20 }).map((q) => `/v1/ws?${encodeURIComponent(q)}=1`),
    );
    await fuzz(
      'WS upgrade requests',
      fc.tuple(
        path,
        fc.oneof({ weight: 2, arbitrary: fc.constant(valid) }, fc.subarray(valid)),
        fc.array(header, { maxLength: 3 }),
        fc.constantFrom('GET', 'POST', 'HEAD'),
      ),
      async ([p, kept, extra, method]) => {
        const head = [`${method} ${p} HTTP/1.1`, 'Host: 127.0.0.1', ...kept, ...extra].join('\r\n');
        const answer = await rawRequest(gw.port, `${head}\r\n\r\n`);
        assertNot5xx(head, answer);
      },
      150,
    );
  }, 90_000);
});
