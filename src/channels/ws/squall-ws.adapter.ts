import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { type Observable, isObservable, lastValueFrom } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { AuthService } from '../../auth/auth.service.js';
import { readToken } from '../../auth/request-token.js';
import { rawHttpError } from '../../infra/http/raw-http-error.js';
import { INSTANCE_HEADER } from '../../infra/http/instance-header.js';
import { Lifecycle } from '../../infra/lifecycle/lifecycle.js';
import type { AppConfig } from '../../infra/config/config.schema.js';
import { WsConnectionLimits } from '../../limits/ws-connection-limits.js';
import { FrameQueue } from './frame-queue.js';
import { connIdOf } from './ws-connection.js';
import { type ClientFrame, FrameError, errorFrame, frameRefs, parseFrame } from './frames.js';
import { originCheck, upgradePrincipals, upgradeRefusal } from './upgrade-auth.js';

const OPEN = 1;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
type FrameHandler = MessageMappingProperties['callback'];
/** A connection's frame handlers: Nest's handler objects, or just their callbacks in `handlerEvents` order. */
type Handlers = MessageMappingProperties[] | FrameHandler[];
type Framed = WebSocket & { [FRAMES]?: FrameQueue<WebSocket, Handlers> };

/** Where a connection's FrameQueue hangs, so one shared listener serves every socket. */
const FRAMES = Symbol('squall.frames');

// Listeners shared by every connection (`this` is the emitter): a closure
// per connection per event cost memory on every idle socket.
function onFrame(this: Framed, data: Buffer): void {
  this[FRAMES]?.push(data);
}
function onClosed(this: Framed, ...args: unknown[]): void {
  const queue = this[FRAMES];
  if (!queue) return;
  queue.close();
  queue.onClose?.(...args);
}
/** Node takes its own error listener off an upgraded socket; without one a client reset while we answer would be an uncaught exception. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * `@nestjs/platform-ws` with Squall's frame contract. The stock adapter drops
 * invalid JSON and unknown events in silence; here each gets an `error` frame
 * (echoing `ref` when it could be read) and the connection stays open. It
 * also sets the hard frame ceiling (`ws` maxPayload: above it `ws` closes
 * with 1009) from MAX_MESSAGE_BYTES, and echoes `ref` on handler replies.
 * Upgrades are checked before they are accepted: the path (404), the Origin
 * (WS_ALLOWED_ORIGINS, 403) and the token (401).
 */
export class SquallWsAdapter extends WsAdapter {
  private readonly log = new Logger('WsAdapter');
  private upgradesGuarded = false;
  private readonly connectionLimits: WsConnectionLimits;
  private readonly originAllowed: (origin: string | undefined) => boolean;
  private auth?: AuthService;
  private readonly lifecycle: Lifecycle;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
    this.connectionLimits = app.get(WsConnectionLimits, { strict: false });
    this.originAllowed = originCheck(config.WS_ALLOWED_ORIGINS);
    if (config.NODE_ENV === 'production' && !config.WS_ALLOWED_ORIGINS) {
      this.log.warn(
        "WS_ALLOWED_ORIGINS is empty: a page on any site may open WebSockets to /v1/ws; list your front-ends' origins",
      );
    }
    this.lifecycle = app.get(Lifecycle);
  }

  /** Several times MAX_MESSAGE_BYTES, so a too-large `publish` still gets a polite payload_too_large. */
  get maxPayload(): number {
    return this.config.MAX_MESSAGE_BYTES * 4 + 64 * 1024;
  }

  override create(port: number, options: Record<string, unknown> = {}) {
    const server = super.create(port, { ...options, maxPayload: this.maxPayload, perMessageDeflate: false });
    // The handshake's 101 names the instance too, as every HTTP answer does.
    (server as WebSocketServer).on('headers', (headers: string[]) =>
      headers.push(`${INSTANCE_HEADER}: ${this.config.INSTANCE_ID}`),
    );
    this.answerUnknownUpgradePaths();
    return server;
  }

  /**
   * The stock adapter destroys an upgrade request for a path no gateway
   * serves, which a client sees as "socket hang up"; answer 404 in the
   * common error shape instead, so a wrong URL is obvious. An upgrade for a
   * served path is admitted (origin, token) before ws accepts it.
   */
  private answerUnknownUpgradePaths(): void {
    const server = this.httpServer as HttpServer | undefined;
    if (!server || this.upgradesGuarded) return;
    this.upgradesGuarded = true;
    const listeners = server.listeners('upgrade') as UpgradeListener[];
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A shared function, not a closure: a closure here would share this
      // call's context and keep `req` (headers and all) and `head` alive for
      // the connection's whole life.
      socket.on('error', destroyOnError);
      const answer = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
        socket.end(
          rawHttpError(status, error, message, { ...headers, [INSTANCE_HEADER]: this.config.INSTANCE_ID }),
        );
      // Draining: the listening socket is closed, but a balancer's kept-alive
      // connection can still carry an upgrade here. A 503 before the handshake
      // lets nginx try the next instance (proxy_next_upstream http_503 on
      // /v1/ws) instead of the client being accepted and closed with 1001.
      if (this.lifecycle.shuttingDown) {
        answer(503, 'Service Unavailable', 'server shutting down; reconnect', { 'Retry-After': '1' });
        return;
      }
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'ws://localhost').pathname;
      } catch {
        answer(400, 'Bad Request', 'malformed request URL');
        return;
      }
      const served = [...this.wsServersRegistry.values()]
        .flat()
        .some((ws: { path?: string }) => ws.path === path);
      if (!served) {
        answer(404, 'Not Found', `no WebSocket endpoint at ${path}`);
        return;
      }
      void this.admit(req).then(async (refusal) => {
        // The client may have gone while its token was checked.
        if (socket.destroyed) return;
        if (refusal) {
          // As on HTTP: a 401 names the scheme it wants.
          answer(
            refusal.status,
            refusal.reason,
            refusal.message,
            refusal.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {},
          );
          return;
        }
        // Connection caps (per client, per address) answer 429 before the upgrade is accepted.
        if (!(await this.connectionLimits.admit(req, socket, upgradePrincipals.get(req)))) return;
        if (socket.destroyed) return;
        for (const listener of listeners) listener.call(server, req, socket, head);
        // ws, having taken the socket, listens for its errors itself.
        if (socket.listenerCount('error') > 1) socket.removeListener('error', destroyOnError);
      });
    });
  }

  /**
   * Origin, then token: a refused upgrade is answered with an HTTP status
   * (403, 401) and never becomes a socket, so nothing is accepted and closed
   * later. The principal is left for the gateway in `upgradePrincipals`.
   */
  private async admit(
    req: IncomingMessage,
  ): Promise<{ status: number; reason: string; message: string } | undefined> {
    const origin = req.headers.origin;
    if (!this.originAllowed(origin)) {
      return { status: 403, reason: 'Forbidden', message: 'this Origin may not open WebSockets here' };
    }
    try {
      this.auth ??= this.app.get(AuthService);
      upgradePrincipals.set(req, await this.auth.authenticate(readToken(req)));
      return undefined;
    } catch (err) {
      const refusal = upgradeRefusal(err);
      if (refusal.status >= 500 && refusal.status !== 503) {
        this.log.error({ msg: 'upgrade check failed', err });
      }
      return refusal;
    }
  }

  /** Client misbehaviour (oversized or broken frames) is routine on a public socket: no error-level log. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    const log = this.log;
    function onClientError(this: WebSocket, err: Error): void {
      log.debug({ msg: 'client socket error', connId: connIdOf(this), err: err.message });
    }
    server.on('connection', (ws: WebSocket) => ws.on('error', onClientError));
    server.on('error', (err: Error) => this.log.error(err));
    return server;
  }

  /**
   * Nest's disconnect callback runs from the shared 'close' listener
   * bindMessageHandlers added (after the queue is closed), so a socket has
   * two 'close' listeners (ws's and this one), not three in a grown array
   * plus the wrapper `once` would allocate. ws emits 'close' once.
   */
  override bindClientDisconnect(client: WebSocket, callback: (...args: unknown[]) => void): void {
    const queue = (client as Framed)[FRAMES];
    if (queue) queue.onClose = callback;
    else client.on('close', callback);
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    _transform: (data: unknown) => Observable<unknown>,
  ): void {
    (client as Framed)[FRAMES] = new FrameQueue<WebSocket, Handlers>(client, this, this.compact(handlers));
    client.on('message', onFrame);
    client.on('close', onClosed);
  }

  /**
   * Nest builds `handlers` per connection ({message, callback} objects with
   * callbacks bound to it). The events come in the same order every time, so
   * a connection keeps only its callbacks, found by the event's index in
   * `handlerEvents`; a linear find over five events costs less than a Map.
   */
  private handlerEvents?: string[];
  private compact(handlers: MessageMappingProperties[]): Handlers {
    this.handlerEvents ??= handlers.map((h) => h.message as string);
    const events = this.handlerEvents;
    const same = handlers.length === events.length && handlers.every((h, i) => h.message === events[i]);
    return same ? handlers.map((h) => h.callback) : handlers;
  }

  private handlerFor(handlers: Handlers, event: string): FrameHandler | undefined {
    const first = handlers[0];
    if (first === undefined) return undefined;
    if (typeof first === 'function') {
      const i = this.handlerEvents!.indexOf(event);
      return i < 0 ? undefined : (handlers[i] as FrameHandler);
    }
    return (handlers as MessageMappingProperties[]).find((h) => h.message === event)?.callback;
  }

  /** One frame: parsed, routed, answered (with its `ref`); never throws. FrameServer for every connection's queue. */
  async serve(client: WebSocket, raw: Buffer, handlers: Handlers): Promise<void> {
    let frame: ClientFrame;
    try {
      frame = parseFrame(raw);
    } catch (err) {
      const e = err as FrameError;
      return this.reject(client, e.code, e.message, e.ref);
    }
    const handler = this.handlerFor(handlers, frame.event);
    if (!handler) return this.reject(client, 'bad_request', `unknown event "${frame.event}"`, frame.ref);
    if (frame.ref !== undefined) frameRefs.set(frame.data, frame.ref);
    let reply: unknown;
    try {
      // Handler errors reach WsErrorFilter inside the callback; what lands
      // here is a bug in the plumbing.
      const result: unknown = await handler(frame.data, frame.event);
      reply = isObservable(result) ? await lastValueFrom(result, { defaultValue: undefined }) : result;
    } catch (err) {
      this.log.error({ msg: 'frame handler threw', connId: connIdOf(client), event: frame.event, err });
      return this.reject(client, 'internal', 'internal error', frame.ref);
    }
    if (reply === undefined || reply === null || client.readyState !== OPEN) return;
    client.send(
      JSON.stringify(
        frame.ref !== undefined && typeof reply === 'object' ? { ...reply, ref: frame.ref } : reply,
      ),
    );
  }

  private reject(client: WebSocket, code: FrameError['code'], message: string, ref?: string): void {
    if (client.readyState === OPEN) client.send(errorFrame(code, message, ref));
  }
}
