import type { Page } from '../channels.service.js';

/** Serialises a page from the envelopes' cached JSON instead of re-stringifying every message. */
export function pageJson(page: Page): string {
  const more = page.hasMore === undefined ? '' : `,"hasMore":${page.hasMore}`;
  // Only said when true, as the WebSocket `subscribed` reply does.
  const truncated = page.truncated ? ',"truncated":true' : '';
  return `{"messages":[${page.messages.map((m) => m.json()).join(',')}],"lastSeq":${page.lastSeq}${more}${truncated}}`;
}
