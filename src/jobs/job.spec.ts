import { AppError } from '../infra/errors/app-error.js';
import { decodeCursor, encodeCursor } from './job.js';

describe('job cursor', () => {
  const id = '0b9f1f0e-8f6a-4f0e-9a43-0c1d2e3f4a5b';

  it('round-trips the exact microsecond timestamp and id', () => {
    const cursor = encodeCursor({ created_us: '1764150000123456', id });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ createdUs: '1764150000123456', id });
  });

  it.each(['', 'not-a-cursor', '!!!', Buffer.from('12.nope').toString('base64url'), 'x'.repeat(500)])(
    'answers 400 for %j',
    (cursor) => {
      expect(() => decodeCursor(cursor)).toThrow(AppError);
      expect(() => decodeCursor(cursor)).toThrow(/cursor/);
    },
  );
});
