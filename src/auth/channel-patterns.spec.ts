import { allowedBy, matchesPattern } from './channel-patterns.js';

describe('channel patterns', () => {
  it.each([
    ['chat:*', 'chat:lobby', true],
    ['chat:*', 'chatx:lobby', false],
    ['chat:*', 'chat:a:b', false],
    ['chat:*', 'chat', false],
    ['chat:lobby', 'chat:lobby', true],
    ['chat:lobby', 'chat:lobby2', false],
    ['*', 'lobby', true],
    ['*', 'chat:lobby', false],
    ['*:*', 'chat:lobby', true],
    ['chat:room-*', 'chat:room-1', true],
    ['chat:room-*', 'chat:room', false],
    ['chat:*-log', 'chat:a-log', true],
    ['chat:*-log', 'chat:-log', true],
    ['chat:a*a', 'chat:a', false],
    ['chat:a*a', 'chat:aa', true],
    ['news:*:daily', 'news:eu:daily', true],
    ['news:*:daily', 'news:eu:weekly', false],
  ])('%s against %s is %s', (pattern, channel, expected) => {
    expect(matchesPattern(pattern, channel)).toBe(expected);
  });

  it('allows a channel when any pattern does, none when the list is empty', () => {
    expect(allowedBy(['news:*', 'chat:*'], 'chat:x')).toBe(true);
    expect(allowedBy([], 'chat:x')).toBe(false);
  });
});
