import type { ErrorCode } from '../../infra/errors/app-error.js';

/** Client → server: `{"event": string, "data": object, "ref"?: string}`. */
export interface ClientFrame {
  event: string;
  data: Record<string, unknown>;
  ref?: string;
}

/** Error codes a client can receive in an `error` frame. */
export type WsErrorCode = Exclude<ErrorCode, 'conflict'>;

const REF = /^[\x20-\x7e]{1,64}$/;

/**
 * The `ref` of the frame that a handler is serving, keyed by the frame's
 * `data` object: Nest hands handlers and exception filters only `data`, and
 * this lets both echo the ref without changing handler signatures.
 */
export const frameRefs = new WeakMap<object, string>();

export class FrameError extends Error {
  constructor(
    readonly code: WsErrorCode,
    message: string,
    readonly ref?: string,
  ) {
    super(message);
  }
}

/** Parses and checks one text frame; throws {@link FrameError} naming what is wrong. */
export function parseFrame(raw: unknown): ClientFrame {
  const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FrameError('bad_request', 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('bad_request', 'frame must be a JSON object {event, data, ref?}');
  }
  const { event, data, ref } = value as Record<string, unknown>;
  const goodRef = typeof ref === 'string' && REF.test(ref) ? ref : undefined;
  if (ref !== undefined && goodRef === undefined) {
    throw new FrameError('bad_request', 'ref must be a string of 1-64 printable characters');
  }
  if (typeof event !== 'string' || event.length === 0 || event.length > 64) {
    throw new FrameError('bad_request', 'event must be a non-empty string', goodRef);
  }
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    throw new FrameError('bad_request', 'data must be an object', goodRef);
  }
  return { event, data: (data as Record<string, unknown>) ?? {}, ref: goodRef };
}

export function replyFrame(event: string, data: unknown, ref?: string): string {
  return JSON.stringify(ref === undefined ? { event, data } : { event, data, ref });
}

/** `retryAfterMs` comes with `unavailable` and `rate_limited`: when trying again makes sense. */
export function errorFrame(code: WsErrorCode, message: string, ref?: string, retryAfterMs?: number): string {
  return replyFrame(
    'error',
    retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs },
    ref,
  );
}
