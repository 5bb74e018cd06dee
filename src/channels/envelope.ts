/** A message as it travels on the wire: `{channel, seq, id, data, publishedAt}`. */
export interface ChannelMessage {
  channel: string;
  seq: number;
  id: string;
  data: unknown;
  publishedAt: string;
}

/**
 * One published message plus its serialisations, each computed at most once
 * per instance however many subscribers and transports receive it. Built
 * either from the JSON text (Redis, Postgres) or from the object (local publish).
 */
export class Envelope {
  private _json?: string;
  private _message?: ChannelMessage;
  private _ws?: Buffer;
  private _sse?: Buffer;

  private constructor(
    readonly channel: string,
    readonly seq: number,
    /** Kept apart so the delivery-lag metric never parses a message's data for it. */
    readonly publishedAt: string,
    json?: string,
    message?: ChannelMessage,
  ) {
    this._json = json;
    this._message = message;
  }

  static fromMessage(message: ChannelMessage): Envelope {
    return new Envelope(message.channel, message.seq, message.publishedAt, undefined, message);
  }

  /** From the exact JSON text of a message; parses only what routing needs. */
  static fromJson(json: string): Envelope {
    const message = JSON.parse(json) as ChannelMessage;
    if (typeof message?.channel !== 'string' || !Number.isSafeInteger(message.seq)) {
      throw new Error('not a channel message');
    }
    return new Envelope(message.channel, message.seq, message.publishedAt, json, message);
  }

  /** From a Postgres row whose `data` is still JSON text, so it is never parsed. */
  static fromRow(channel: string, seq: number, id: string, dataJson: string, publishedAt: string): Envelope {
    const json = `{"channel":${JSON.stringify(channel)},"seq":${seq},"id":"${id}","data":${dataJson},"publishedAt":"${publishedAt}"}`;
    return new Envelope(channel, seq, publishedAt, json);
  }

  get message(): ChannelMessage {
    return (this._message ??= JSON.parse(this._json!) as ChannelMessage);
  }

  json(): string {
    return (this._json ??= JSON.stringify(this._message));
  }

  /**
   * The WebSocket `message` frame, encoded once: every subscriber's socket
   * gets the same bytes instead of encoding the text again per client.
   */
  wsFrame(): Buffer {
    return (this._ws ??= Buffer.from(`{"event":"message","data":${this.json()}}`));
  }

  /** The Server-Sent Events block (`id:` is the seq, so Last-Event-ID resumes), encoded once. */
  sseFrame(): Buffer {
    return (this._sse ??= Buffer.from(`id: ${this.seq}\nevent: message\ndata: ${this.json()}\n\n`));
  }
}
