/**
 * A whole HTTP/1.1 error response in the common `{statusCode, error, message}`
 * shape, for the places that answer on the raw socket before Express runs
 * (malformed requests, WebSocket upgrades). The connection closes after it.
 */
export function rawHttpError(
  statusCode: number,
  error: string,
  message: string,
  headers: Record<string, string> = {},
): string {
  const body = JSON.stringify({ statusCode, error, message });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${statusCode} ${error}\r\nContent-Type: application/json\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
