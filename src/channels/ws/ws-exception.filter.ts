import { ArgumentsHost, Catch, HttpException, Logger, WsExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { AppError } from '../../infra/errors/app-error.js';
import { isDatabaseUnavailable } from '../../infra/errors/database-errors.js';
import { type WsErrorCode, errorFrame, frameRefs } from './frames.js';
import { connIdOf } from './ws-connection.js';

const BY_STATUS: Record<number, WsErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

/**
 * Turns whatever a gateway handler throws into an `error` frame that echoes
 * the frame's `ref`; the connection stays open.
 */
@Catch()
export class WsErrorFilter implements WsExceptionFilter {
  private readonly logger = new Logger('WsError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const client = ws.getClient<WebSocket>();
    const data = ws.getData<unknown>();
    const ref = typeof data === 'object' && data !== null ? frameRefs.get(data) : undefined;
    const { code, message, retryAfterMs } = this.describe(exception, connIdOf(client));
    if (client.readyState === 1) client.send(errorFrame(code, message, ref, retryAfterMs));
  }

  private describe(
    exception: unknown,
    connId: string,
  ): { code: WsErrorCode; message: string; retryAfterMs?: number } {
    if (exception instanceof AppError) {
      if (exception.code === 'conflict') return { code: 'bad_request', message: exception.message };
      // "Try again shortly" (an outage, a full queue, shutdown) is not a bug: say so, and when.
      const retryAfterMs =
        exception.code === 'unavailable' || exception.code === 'rate_limited'
          ? (exception.retryAfterMs ?? (exception.retryAfter ?? 1) * 1000)
          : undefined;
      return { code: exception.code, message: exception.message, retryAfterMs };
    }
    if (exception instanceof WsException) {
      const e = exception.getError();
      if (typeof e === 'object' && e && 'code' in e) return e as { code: WsErrorCode; message: string };
      return { code: 'bad_request', message: String(e) };
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse() as { message?: unknown };
      const message = Array.isArray(body?.message) ? body.message.join('; ') : exception.message;
      return { code: BY_STATUS[exception.getStatus()] ?? 'internal', message };
    }
    if (isDatabaseUnavailable(exception)) {
      return { code: 'unavailable', message: 'database unavailable, retry', retryAfterMs: 2000 };
    }
    this.logger.error({ msg: 'frame failed', connId, err: exception });
    return { code: 'internal', message: 'internal error' };
  }
}
