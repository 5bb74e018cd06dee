import { AppError } from '../../infra/errors/app-error.js';
import type { SubmitInput } from '../jobs.service.js';

const FIELDS = new Set(['type', 'payload', 'idempotencyKey', 'delayMs', 'priority', 'attempts']);

/**
 * Checks the shape of `POST /v1/jobs` by hand (payload is any JSON, which
 * decorators describe poorly); ranges and the payload itself are checked by
 * JobsService, so code that submits directly gets the same answers.
 */
export function parseSubmitBody(body: unknown): SubmitInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('bad_request', 'body must be a JSON object with a type field');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !FIELDS.has(k));
  if (unknown) throw new AppError('bad_request', `${unknown} is not a job field (${[...FIELDS].join(', ')})`);
  const { type, payload, idempotencyKey, delayMs, priority, attempts } = fields;
  if (type === undefined) throw new AppError('bad_request', 'type is required');
  if (typeof type !== 'string') throw new AppError('bad_request', 'type must be a string');
  return {
    type,
    payload,
    idempotencyKey: idempotencyKey as string | undefined,
    delayMs: delayMs as number | undefined,
    priority: priority as number | undefined,
    attempts: attempts as number | undefined,
  };
}

/** The idempotencyKey of a body parseSubmitBody may have refused, to answer a retry with its original job. */
export function idempotencyKeyOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null
    ? (body as Record<string, unknown>).idempotencyKey
    : undefined;
}
