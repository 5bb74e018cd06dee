import type { WebSocket } from 'ws';
import type { SubscribeResult } from '../channels/hub/hub.js';
import { replyFrame } from './frames.js';

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * Squall's state for one WebSocket: its subscriptions, liveness and send
 * side. (Its frames are served one at a time by SquallWsAdapter.)
 */
export class WsConnection {
  private static count = 0;
  /** Identifies the connection in rate limits and logs. */
  readonly id = `ws:${++WsConnection.count}`;
  readonly subscriptions = new Map<string, SubscribeResult>();
  missedPongs = 0;
  closed = false;

  constructor(
    readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
  ) {}

  reply(event: string, data: unknown, ref?: string): void {
    this.send(replyFrame(event, data, ref));
  }

  /**
   * Sends a serialised frame. A client that does not read fast enough to keep
   * its unsent buffer under WS_MAX_BUFFERED_BYTES is closed with 1013: it
   * reconnects and resumes with `after`, and never slows anyone else down.
   */
  send(frame: string): void {
    if (this.closed || this.socket.readyState !== 1) return;
    this.socket.send(frame);
    if (this.socket.bufferedAmount > this.maxBufferedBytes) this.dropSlowConsumer();
  }

  /** 1013: the client reconnects and resumes with `after`; nobody else waits for it. */
  dropSlowConsumer(): void {
    this.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer: reconnect and resume with after');
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(code, reason);
  }
}
