import type { Msg } from './ws-client.js';

/** A long-poll client: polls from `after` until it holds `count` messages. */
export async function pollUntil(
  base: string,
  channel: string,
  count: number,
  after = 0,
  deadlineMs = 30_000,
): Promise<Msg[]> {
  const got: Msg[] = [];
  const deadline = Date.now() + deadlineMs;
  let cursor = after;
  while (got.length < count) {
    if (Date.now() > deadline)
      throw new Error(`long poll: ${got.length}/${count} messages before the deadline`);
    const res = await fetch(`${base}/v1/channels/${channel}/poll?after=${cursor}&timeout=5`);
    if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { messages: Msg[]; lastSeq: number };
    got.push(...body.messages);
    cursor = body.lastSeq;
  }
  return got;
}
