/**
 * Token claims name channels by pattern: `*` stands for exactly one
 * `:`-separated segment, or for any part of one (`chat:room-*`), never for a
 * `:`. So `chat:*` allows `chat:lobby`, not `chatx:lobby` nor `chat:a:b`.
 * A pattern `*` alone is one segment too: it allows `lobby`, not `chat:lobby`.
 */
export function matchesPattern(pattern: string, channel: string): boolean {
  const p = pattern.split(':');
  const c = channel.split(':');
  if (p.length !== c.length) return false;
  return p.every((segment, i) => segmentMatches(segment, c[i]));
}

function segmentMatches(pattern: string, segment: string): boolean {
  if (!pattern.includes('*')) return pattern === segment;
  const parts = pattern.split('*');
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (!segment.startsWith(first) || segment.length < first.length + last.length) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = segment.indexOf(middle, at);
    if (found < 0) return false;
    at = found + middle.length;
  }
  return segment.length - last.length >= at && segment.endsWith(last);
}

export const allowedBy = (patterns: readonly string[], channel: string): boolean =>
  patterns.some((pattern) => matchesPattern(pattern, channel));
