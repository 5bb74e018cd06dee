import { AppError } from '../../infra/errors/app-error.js';

export interface PublishBody {
  data: unknown;
  idempotencyKey?: string;
}

const KEY = /^[\x21-\x7e]{1,128}$/;

/**
 * Checks a publish body by hand rather than with a DTO class: `data` is any
 * JSON value (including null), which decorators describe poorly. Shared by
 * the REST controller and the WebSocket gateway.
 */
export function parsePublishBody(body: unknown): PublishBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError(
      'bad_request',
      'body must be a JSON object with a data field (sent with Content-Type: application/json)',
    );
  }
  const { data, idempotencyKey } = body as Record<string, unknown>;
  if (data === undefined) throw new AppError('bad_request', 'data is required');
  // null is how many JSON clients spell "not given".
  if (idempotencyKey === undefined || idempotencyKey === null) return { data };
  if (typeof idempotencyKey !== 'string' || !KEY.test(idempotencyKey)) {
    throw new AppError(
      'bad_request',
      'idempotencyKey must be 1-128 printable ASCII characters without spaces (0x21-0x7e)',
    );
  }
  return { data, idempotencyKey };
}
