/** What went wrong, as a stable string to switch on. */
export type ErrorCode =
  /** The server refused the request as malformed (400), e.g. a bad channel name. */
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  /** 409, e.g. cancelling a job that already finished. */
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  /** The server answered 5xx or WebSocket `internal`: Postgres or Redis is unreachable; retry shortly. */
  | 'unavailable'
  /** The connection dropped or could not be made before an answer came. */
  | 'disconnected'
  /** No answer within the time allowed. */
  | 'timeout'
  /** The client was closed. */
  | 'closed';

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
};

/** WebSocket `error` frame codes, mapped onto the same vocabulary as HTTP. */
const BY_WS_CODE: Record<string, ErrorCode> = {
  bad_request: 'bad_request',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  not_found: 'not_found',
  rate_limited: 'rate_limited',
  payload_too_large: 'payload_too_large',
  internal: 'unavailable',
};

/** Every error the SDK rejects with or emits. */
export class SquallError extends Error {
  override readonly name = 'SquallError';
  readonly code: ErrorCode;
  /** The HTTP status, when the error came from an HTTP answer. */
  readonly status?: number;
  /** From `Retry-After`, when the server sent one. */
  readonly retryAfterMs?: number;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
  }

  /**
   * Whether sending the same request again (with the same idempotency key) may
   * succeed: the connection dropped, or the server asked to come back later.
   */
  get retryable(): boolean {
    return (
      this.code === 'disconnected' ||
      this.code === 'unavailable' ||
      this.code === 'rate_limited' ||
      this.code === 'timeout'
    );
  }

  static fromHttp(status: number, body: unknown, retryAfter?: string | null): SquallError {
    const code = BY_STATUS[status] ?? (status >= 500 ? 'unavailable' : 'bad_request');
    const message =
      body && typeof body === 'object' && 'message' in body
        ? String((body as { message: unknown }).message)
        : `HTTP ${status}`;
    const seconds = retryAfter ? Number(retryAfter) : NaN;
    return new SquallError(code, message, {
      status,
      retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : undefined,
    });
  }

  static fromFrame(data: { code?: unknown; message?: unknown }): SquallError {
    const code = BY_WS_CODE[String(data.code)] ?? 'bad_request';
    return new SquallError(code, String(data.message ?? data.code ?? 'error'));
  }
}
