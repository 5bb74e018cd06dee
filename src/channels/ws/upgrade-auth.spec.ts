import { AppError } from '../../infra/errors/app-error.js';
import { originCheck, upgradeRefusal } from './upgrade-auth.js';

describe('WS_ALLOWED_ORIGINS', () => {
  it('empty or * allows any origin', () => {
    expect(originCheck('')('https://evil.example')).toBe(true);
    expect(originCheck('*')('https://evil.example')).toBe(true);
  });

  it('a list allows exactly its origins (case and a trailing slash aside) and requests without Origin', () => {
    const allowed = originCheck(' https://App.example.com/ , http://localhost:5173');
    expect(allowed('https://app.example.com')).toBe(true);
    expect(allowed('http://localhost:5173')).toBe(true);
    expect(allowed(undefined)).toBe(true);
    expect(allowed('https://app.example.com.evil.net')).toBe(false);
    expect(allowed('http://app.example.com')).toBe(false);
    expect(allowed('null')).toBe(false);
  });
});

describe('upgradeRefusal', () => {
  it('answers an AppError with its status and message, anything else with a bare 500', () => {
    expect(upgradeRefusal(new AppError('unauthorized', 'the token has expired'))).toEqual({
      status: 401,
      reason: 'Unauthorized',
      message: 'the token has expired',
    });
    expect(upgradeRefusal(new Error('secret detail'))).toEqual({
      status: 500,
      reason: 'Internal Server Error',
      message: 'internal error',
    });
  });
});
