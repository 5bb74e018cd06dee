import { AppError } from '../../infra/errors/app-error.js';
import { parseIdempotencyKey } from '../../infra/http/idempotency-key.js';

export interface PublishBody {
  data: unknown;
  idempotencyKey?: string;
}

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
  const key = parseIdempotencyKey(idempotencyKey);
  return key === undefined ? { data } : { data, idempotencyKey: key };
}
