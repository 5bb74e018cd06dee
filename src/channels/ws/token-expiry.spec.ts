import { jest } from '@jest/globals';
import type { WebSocket } from 'ws';
import type { Socket } from 'node:net';
import type { Principal } from '../../auth/principal.js';
import { CLOSE_TOKEN_EXPIRED, warningLeadMs, watchExpiry } from './token-expiry.js';
import { WsConnection } from './ws-connection.js';

const principal = (expiresAt: number | null): Principal => ({
  sub: 'u',
  admin: false,
  subscribe: [],
  publish: [],
  expiresAt,
});

function connection(expiresAt: number | null) {
  const sent: string[] = [];
  const closes: number[] = [];
  const socket = {
    readyState: 1,
    bufferedAmount: 0,
    send: (frame: string) => sent.push(frame),
    close: (code: number) => closes.push(code),
  } as unknown as WebSocket;
  const conn = new WsConnection(socket, {} as Socket, 1 << 20, principal(expiresAt), {
    closing: () => undefined,
    slowConsumer: () => undefined,
  });
  return { conn, sent, closes };
}

describe('token expiry', () => {
  it('warns 60 s ahead, or a tenth of the remaining life when that is less', () => {
    expect(warningLeadMs(3_600_000)).toBe(60_000);
    expect(warningLeadMs(600_000)).toBe(60_000);
    expect(warningLeadMs(300_000)).toBe(30_000);
    expect(warningLeadMs(3000)).toBe(300);
    expect(warningLeadMs(-5)).toBe(0);
  });

  describe('on a connection', () => {
    beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
    afterEach(() => jest.useRealTimers());

    it('sends token_expiring at exp - lead, closes with 4001 at exp, with one timer at a time', () => {
      const { conn, sent, closes } = connection(1_000_000 + 10_000);
      watchExpiry(conn);
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(8_999);
      expect(sent).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(sent.map((f) => JSON.parse(f) as unknown)).toEqual([
        {
          event: 'token_expiring',
          data: { expiresAt: new Date(1_010_000).toISOString(), expiresInMs: 1000 },
        },
      ]);
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(999);
      expect(closes).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(closes).toEqual([CLOSE_TOKEN_EXPIRED]);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('a new principal restarts the watch; closing or a token without exp leaves no timer', () => {
      const { conn, closes } = connection(1_000_000 + 10_000);
      watchExpiry(conn);
      conn.principal = principal(1_000_000 + 3_600_000);
      watchExpiry(conn);
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(20_000);
      expect(closes).toEqual([]);
      conn.principal = principal(null);
      watchExpiry(conn);
      expect(jest.getTimerCount()).toBe(0);
      conn.principal = principal(1_000_000 + 3_600_000);
      watchExpiry(conn);
      conn.markClosing();
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
