import { SquallError } from './errors.js';
import type { FetchLike } from './transports/transport.js';
import type { PublishAck } from './types.js';

export interface HttpRequest {
  method?: 'GET' | 'POST';
  body?: unknown;
  token?: string;
  /** Aborts the request, which then rejects with `closed`. */
  signal?: AbortSignal;
  /** Rejects with `timeout` after this long. */
  timeoutMs?: number;
}

export interface HttpAnswer<T> {
  status: number;
  body: T;
}

/**
 * One JSON request. A network failure rejects with `disconnected`, a non-2xx
 * answer with the matching `SquallError` (its `status`, `message` and
 * `Retry-After` kept).
 */
export async function httpJson<T>(
  fetchFn: FetchLike,
  url: string,
  request: HttpRequest = {},
): Promise<HttpAnswer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (request.token) headers.authorization = `Bearer ${request.token}`;
  const abort = linkedAbort(request.signal, request.timeoutMs);
  try {
    const res = await fetchFn(url, {
      method: request.method ?? 'GET',
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: abort.signal,
    });
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // A proxy's HTML error page: the status says enough.
    }
    if (!res.ok) throw SquallError.fromHttp(res.status, body, res.headers.get('retry-after'));
    return { status: res.status, body: body as T };
  } catch (err) {
    throw abort.explain(err, url);
  } finally {
    abort.dispose();
  }
}

/** POST /v1/channels/:channel/messages, answered as a `PublishAck`. */
export async function publishOverHttp(
  fetchFn: FetchLike,
  baseUrl: string,
  token: string | undefined,
  channel: string,
  data: unknown,
  idempotencyKey: string,
  timeoutMs: number,
): Promise<PublishAck> {
  const { status, body } = await httpJson<PublishAck>(
    fetchFn,
    `${baseUrl}/v1/channels/${encodeURIComponent(channel)}/messages`,
    {
      method: 'POST',
      body: { data, idempotencyKey },
      token,
      timeoutMs,
    },
  );
  // 200 (not 201) is the answer to a key already used: the original message.
  return { channel: body.channel, seq: body.seq, id: body.id, duplicate: status === 200 };
}

/**
 * An AbortSignal that fires when `outer` does or after `timeoutMs`, and turns
 * the resulting rejection into the right `SquallError`.
 */
export function linkedAbort(outer: AbortSignal | undefined, timeoutMs: number | undefined) {
  const controller = new AbortController();
  let timedOut = false;
  const onOuter = () => controller.abort();
  if (outer?.aborted) controller.abort();
  outer?.addEventListener('abort', onOuter);
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs);
  return {
    signal: controller.signal,
    /** Call when the work is over (successfully or not). */
    dispose() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
    explain(err: unknown, url: string): SquallError {
      if (err instanceof SquallError) return err;
      if (timedOut)
        return new SquallError('timeout', `no answer from ${url} within ${timeoutMs} ms`, { cause: err });
      if (controller.signal.aborted) return new SquallError('closed', 'request aborted', { cause: err });
      return new SquallError('disconnected', `${url}: ${(err as Error)?.message ?? err}`, {
        cause: err,
      });
    },
  };
}
