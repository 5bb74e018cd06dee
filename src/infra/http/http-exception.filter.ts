import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { AppError, HTTP_STATUS } from '../errors/app-error.js';
import { constraintViolation } from '../errors/database-constraints.js';
import { isDatabaseUnavailable, isInvalidDataError } from '../errors/database-errors.js';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
  limit?: number;
}

/** body-parser's errors (the JSON parser's SyntaxError included), raw or wrapped by Nest. */
function bodyParserError(exception: unknown): { status: number; message: string } | undefined {
  const wrapped = exception instanceof HttpException ? exception.cause : undefined;
  const err = (wrapped ?? exception) as BodyParserError | undefined;
  if (!err || typeof err !== 'object') return undefined;
  if (err.type === 'entity.too.large') {
    return { status: HttpStatus.PAYLOAD_TOO_LARGE, message: `request body exceeds ${err.limit} bytes` };
  }
  if (err.type === 'entity.parse.failed' || err instanceof SyntaxError) {
    return { status: HttpStatus.BAD_REQUEST, message: `body is not valid JSON (${err.message})` };
  }
  if (wrapped && err.status === 400 && typeof err.type === 'string') {
    return { status: HttpStatus.BAD_REQUEST, message: `body could not be read: ${err.message}` };
  }
  return undefined;
}

/**
 * Every HTTP error leaves as `{statusCode, error, message}`. Errors that escape
 * from Express middleware (body-parser's 413 and 400) and from Postgres being
 * down (503) are mapped here too, so bad input never turns into a 500.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<Response>();
    const { status, message, headers, extra } = this.describe(exception);
    if (status >= 500 && status !== 503) this.logger.error(exception);
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
    res.status(status).json({ statusCode: status, error: REASONS[status] ?? 'Error', message, ...extra });
  }

  private describe(exception: unknown): {
    status: number;
    message: string;
    headers?: Record<string, string>;
    extra?: Record<string, unknown>;
  } {
    // Nest hands body-parser failures over as HttpExceptions carrying the raw
    // parser text ("Expected property name..."): name the body instead.
    const bodyError = bodyParserError(exception);
    if (bodyError) return bodyError;
    if (exception instanceof AppError) {
      const headers: Record<string, string> = {};
      if (exception.retryAfter) headers['Retry-After'] = String(exception.retryAfter);
      // RFC 6750: a 401 names the scheme the client should use.
      if (exception.code === 'unauthorized') headers['WWW-Authenticate'] = 'Bearer';
      return { status: HTTP_STATUS[exception.code], message: exception.message, headers };
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      // Terminus's readiness report: keep its per-dependency detail.
      // Its own `error` map (the failing dependencies, also under `details`)
      // would replace the `error` reason phrase of the common error shape.
      if (typeof body === 'object' && body && 'details' in body) {
        const { error: _failing, ...report } = body as Record<string, unknown>;
        return { status: exception.getStatus(), message: 'not ready', extra: report };
      }
      let message = exception.message;
      if (typeof body === 'object' && body && 'message' in body) {
        const m = (body as { message: unknown }).message;
        message = Array.isArray(m) ? m.join('; ') : String(m);
      }
      const headers = (exception as HttpException & { headers?: Record<string, string> }).headers;
      return { status: exception.getStatus(), message, headers };
    }
    const err = exception as { status?: number; message?: string };
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      return { status: err.status, message: err.message ?? 'bad request' };
    }
    const violation = constraintViolation(exception);
    if (violation) return violation;
    if (isInvalidDataError(exception)) {
      // Postgres refused a value from the request (a NUL byte, say): the input is at fault.
      this.logger.warn(`invalid input reached the database: ${(exception as Error).message}`);
      return { status: HttpStatus.BAD_REQUEST, message: `invalid input: ${(exception as Error).message}` };
    }
    if (isDatabaseUnavailable(exception)) {
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        message: 'database unavailable',
        headers: { 'Retry-After': '2' },
      };
    }
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'internal error' };
  }
}
