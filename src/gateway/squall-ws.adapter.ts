import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { EMPTY, type Observable, fromEvent } from 'rxjs';
import { catchError, concatMap, filter, finalize, first, map, share, takeUntil, tap } from 'rxjs/operators';
import type { WebSocket, WebSocketServer } from 'ws';
import { rawHttpError } from '../common/raw-http-error.js';
import type { AppConfig } from '../config/config.schema.js';
import { ReadBudget } from './read-budget.js';
import { connIdOf } from './ws-connection.js';
import { type ClientFrame, FrameError, errorFrame, frameRefs, parseFrame } from './frames.js';

const OPEN = 1;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
/** Frames, and bytes, read but not yet served on one connection before reading pauses. */
const MAX_PENDING_FRAMES = 64;
const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * `@nestjs/platform-ws` with Squall's frame contract. The stock adapter drops
 * invalid JSON and unknown events in silence; here each gets an `error` frame
 * (echoing `ref` when it could be read) and the connection stays open. It
 * also sets the hard frame ceiling (`ws` maxPayload: above it `ws` closes
 * with 1009) from MAX_MESSAGE_BYTES, and echoes `ref` on handler replies.
 */
export class SquallWsAdapter extends WsAdapter {
  private readonly log = new Logger('WsAdapter');
  private upgradesGuarded = false;

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  /** Several times MAX_MESSAGE_BYTES, so a too-large `publish` still gets a polite payload_too_large. */
  get maxPayload(): number {
    return this.config.MAX_MESSAGE_BYTES * 4 + 64 * 1024;
  }

  override create(port: number, options: Record<string, unknown> = {}) {
    const server = super.create(port, { ...options, maxPayload: this.maxPayload, perMessageDeflate: false });
    this.answerUnknownUpgradePaths();
    return server;
  }

  /**
   * The stock adapter destroys an upgrade request for a path no gateway
   * serves, which a client sees as "socket hang up"; answer 404 in the
   * common error shape instead, so a wrong URL is obvious.
   */
  private answerUnknownUpgradePaths(): void {
    const server = this.httpServer as HttpServer | undefined;
    if (!server || this.upgradesGuarded) return;
    this.upgradesGuarded = true;
    const listeners = server.listeners('upgrade') as UpgradeListener[];
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Node takes its own error listener off an upgraded socket; without one a
      // client reset while we answer would be an uncaught exception.
      socket.on('error', () => socket.destroy());
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'ws://localhost').pathname;
      } catch {
        socket.end(rawHttpError(400, 'Bad Request', 'malformed request URL'));
        return;
      }
      const served = [...this.wsServersRegistry.values()]
        .flat()
        .some((ws: { path?: string }) => ws.path === path);
      if (served) {
        for (const listener of listeners) listener.call(server, req, socket, head);
        return;
      }
      socket.end(rawHttpError(404, 'Not Found', `no WebSocket endpoint at ${path}`));
    });
  }

  /** Client misbehaviour (oversized or broken frames) is routine on a public socket: no error-level log. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (ws: WebSocket) =>
      ws.on('error', (err: Error) =>
        this.log.debug({ msg: 'client socket error', connId: connIdOf(ws), err: err.message }),
      ),
    );
    server.on('error', (err: Error) => this.log.error(err));
    return server;
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const byEvent = new Map(handlers.map((h) => [h.message as string, h]));
    const close$ = fromEvent(client, 'close').pipe(share(), first());
    // One frame at a time, in arrival order (concatMap, not Nest's mergeMap):
    // replies and error frames come back in the order their frames were sent,
    // so a client can pipeline, and a `ping` is a barrier. A client that
    // sends faster than it is served stops being read (TCP backpressure)
    // instead of queueing frames in memory without bound.
    const budget = new ReadBudget(MAX_PENDING_FRAMES, MAX_PENDING_BYTES, client);
    const sizeOf = (event: unknown) => {
      const data = (event as { data: unknown }).data;
      return typeof data === 'string' ? data.length : Buffer.isBuffer(data) ? data.length : 0;
    };
    fromEvent(client, 'message')
      .pipe(
        tap((event) => budget.read(sizeOf(event))),
        concatMap((event) =>
          this.dispatch(client, (event as { data: unknown }).data, byEvent, transform).pipe(
            catchError((err: unknown) => {
              this.log.error({ msg: 'frame handler failed', connId: connIdOf(client), err });
              return EMPTY;
            }),
            finalize(() => budget.served(sizeOf(event))),
          ),
        ),
        takeUntil(close$),
      )
      .subscribe((reply) => {
        if (client.readyState === OPEN) client.send(JSON.stringify(reply));
      });
  }

  private dispatch(
    client: WebSocket,
    raw: unknown,
    byEvent: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Observable<unknown> {
    let frame: ClientFrame;
    try {
      frame = parseFrame(raw);
    } catch (err) {
      const e = err as FrameError;
      return this.reject(client, e.code, e.message, e.ref);
    }
    const handler = byEvent.get(frame.event);
    if (!handler) return this.reject(client, 'bad_request', `unknown event "${frame.event}"`, frame.ref);
    if (frame.ref !== undefined) frameRefs.set(frame.data, frame.ref);
    try {
      return transform(handler.callback(frame.data, frame.event)).pipe(
        filter((reply) => reply !== undefined && reply !== null),
        map((reply) =>
          frame.ref !== undefined && typeof reply === 'object'
            ? { ...(reply as object), ref: frame.ref }
            : reply,
        ),
      );
    } catch (err) {
      this.log.error({ msg: 'frame handler threw', connId: connIdOf(client), event: frame.event, err });
      return this.reject(client, 'internal', 'internal error', frame.ref);
    }
  }

  private reject(
    client: WebSocket,
    code: FrameError['code'],
    message: string,
    ref?: string,
  ): Observable<never> {
    if (client.readyState === OPEN) client.send(errorFrame(code, message, ref));
    return EMPTY;
  }
}
