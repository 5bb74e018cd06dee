import { SseParser } from './sse.js';

function parse(chunks: string[]) {
  const events: Array<[string, string]> = [];
  const comments: string[] = [];
  const parser = new SseParser({ event: (t, d) => events.push([t, d]), comment: (c) => comments.push(c) });
  chunks.forEach((c) => parser.push(c));
  return { events, comments };
}

describe('SseParser', () => {
  it('parses the stream Squall sends, however the chunks split it', () => {
    const text =
      'retry: 1000\n: subscribed lastSeq=42 truncated=false\n\nid: 41\nevent: message\ndata: {"seq":41}\n\n: heartbeat\n\nid: 42\r\nevent: message\r\ndata: {"seq":42}\r\n\r\n';
    const whole = parse([text]);
    expect(whole.comments).toEqual([' subscribed lastSeq=42 truncated=false', ' heartbeat']);
    expect(whole.events).toEqual([
      ['message', '{"seq":41}'],
      ['message', '{"seq":42}'],
    ]);
    // One character at a time, including a '\r\n' split across chunks.
    expect(parse([...text])).toEqual(whole);
  });

  it('joins multi-line data and defaults the event type to message', () => {
    expect(parse(['data: a\ndata: b\n\nevent: other\ndata:c\n\n']).events).toEqual([
      ['message', 'a\nb'],
      ['other', 'c'],
    ]);
  });

  it('dispatches nothing for a block without data', () => {
    expect(parse(['event: message\nid: 3\n\n']).events).toEqual([]);
  });
});
