/** Small JSON-over-fetch helpers for tests. */
export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: body as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let counter = 0;
/** A channel name unique to this test run. */
export function uniqueChannel(prefix = 'test'): string {
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${++counter}`;
}

/** Publishes messages 1..total of ~`bytes` each, `batch` at a time: enough to fill a paused reader's buffers. */
export async function publishBlobs(base: string, channel: string, total: number, bytes = 32_000, batch = 20) {
  const blob = 'y'.repeat(bytes);
  for (let i = 1; i <= total; i += batch) {
    const last = Math.min(i + batch - 1, total);
    const ns = Array.from({ length: last - i + 1 }, (_, k) => i + k);
    await Promise.all(ns.map((n) => post(base, `/v1/channels/${channel}/messages`, { data: { n, blob } })));
  }
}
