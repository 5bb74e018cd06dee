import { hostname } from 'node:os';
import { ConfigError, parseConfig } from './config.schema.js';

const base = { DATABASE_URL: 'postgres://u:p@localhost:5432/db', REDIS_URL: 'redis://localhost:6379' };

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(base);
    expect(c.PORT).toBe(3000);
    expect(c.ROLE).toEqual(['api', 'gateway', 'worker']);
    expect(c.MAX_MESSAGE_BYTES).toBe(65536);
    expect(c.WS_PING_INTERVAL_MS).toBe(25000);
  });

  it('names the instance hostname:PORT unless INSTANCE_ID is set', () => {
    expect(parseConfig({ ...base, PORT: '4100' }).INSTANCE_ID).toBe(`${hostname()}:4100`);
    expect(parseConfig({ ...base, INSTANCE_ID: ' api-2 ' }).INSTANCE_ID).toBe('api-2');
  });

  it('parses a role list, trimming and de-duplicating', () => {
    expect(parseConfig({ ...base, ROLE: ' worker, api,worker ' }).ROLE).toEqual(['worker', 'api']);
  });

  it.each([
    ['PORT', 'abc', /PORT must be an integer/],
    ['PORT', '70000', /PORT must be at most 65535/],
    ['ROLE', 'api,cron', /ROLE must be a comma list of api, gateway, worker/],
    ['ROLE', ',', /ROLE must name at least one/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres: or postgresql:\/\/ URL/],
    ['REDIS_URL', 'nope', /REDIS_URL must be a redis: or rediss:\/\/ URL/],
    ['MAX_MESSAGE_BYTES', '-1', /MAX_MESSAGE_BYTES must be an integer/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
    ['INSTANCE_ID', 'a b', /INSTANCE_ID must be 1 to 128 of/],
  ])('rejects %s=%s with a one-line message naming it', (name, value, pattern) => {
    let error: unknown;
    try {
      parseConfig({ ...base, [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(pattern);
    expect(message).toContain(JSON.stringify(value));
    expect(message).not.toContain('\n');
  });

  it('names every missing required variable', () => {
    expect(() => parseConfig({})).toThrow(/DATABASE_URL is required; REDIS_URL is required/);
  });

  describe('Redis Cluster', () => {
    const db = { DATABASE_URL: base.DATABASE_URL };

    it('REDIS_CLUSTER_NODES stands in for REDIS_URL', () => {
      const c = parseConfig({ ...db, REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-b:7001,[::1]:7002 ' });
      expect(c.REDIS_CLUSTER_NODES).toEqual(['10.0.0.1:7000', 'redis-b:7001', '[::1]:7002']);
      expect(c.REDIS_URL).toBeUndefined();
    });

    it.each([
      [{ REDIS_CLUSTER_NODES: 'redis-a' }, /REDIS_CLUSTER_NODES must be a comma list of host:port/],
      [{ REDIS_CLUSTER_NODES: ',' }, /REDIS_CLUSTER_NODES must name at least one host:port/],
      [
        { REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://x:6379' },
        /REDIS_CLUSTER_NODES and REDIS_URL are exclusive/,
      ],
      [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_KEY_PREFIX: '{app}' }, /REDIS_KEY_PREFIX must not contain \{/],
    ])('rejects %j', (env, pattern) => {
      expect(() => parseConfig({ ...db, ...env })).toThrow(pattern);
    });

    it('asks for one of the two when neither is set', () => {
      expect(() => parseConfig(db)).toThrow(/REDIS_URL is required \(or REDIS_CLUSTER_NODES/);
    });
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig({ ...base, PORT: '' }).PORT).toBe(3000);
  });

  describe('authentication', () => {
    const secret = 'a'.repeat(32);

    it('is open without a key, token with one, whatever NODE_ENV outside production', () => {
      expect(parseConfig(base).AUTH_MODE).toBe('open');
      expect(parseConfig({ ...base, AUTH_JWT_SECRET: secret }).AUTH_MODE).toBe('token');
      expect(parseConfig({ ...base, AUTH_JWKS_URL: 'https://idp.example/jwks' }).AUTH_MODE).toBe('token');
    });

    it('splits the secret list for rotation', () => {
      const b = 'b'.repeat(40);
      expect(parseConfig({ ...base, AUTH_JWT_SECRET: ` ${secret} , ${b} ` }).AUTH_JWT_SECRET).toEqual([
        secret,
        b,
      ]);
    });

    it('refuses a short secret without printing it', () => {
      const short = 'short-secret-value';
      let message = '';
      try {
        parseConfig({ ...base, AUTH_JWT_SECRET: `${secret},${short}` });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/AUTH_JWT_SECRET must be a comma list of secrets of at least 32 characters/);
      expect(message).not.toContain(short);
      expect(message).not.toContain(secret);
    });

    it('refuses open mode in production unless AUTH_MODE=open says so', () => {
      expect(() => parseConfig({ ...base, NODE_ENV: 'production' })).toThrow(
        /AUTH_JWT_SECRET or AUTH_JWKS_URL is required when NODE_ENV=production/,
      );
      expect(parseConfig({ ...base, NODE_ENV: 'production', AUTH_MODE: 'open' }).AUTH_MODE).toBe('open');
      expect(parseConfig({ ...base, NODE_ENV: 'production', AUTH_JWT_SECRET: secret }).AUTH_MODE).toBe(
        'token',
      );
    });

    it('refuses AUTH_MODE=token without a key, and a JWKS URL that is not http(s)', () => {
      expect(() => parseConfig({ ...base, AUTH_MODE: 'token' })).toThrow(
        /AUTH_MODE token needs AUTH_JWT_SECRET/,
      );
      expect(() => parseConfig({ ...base, AUTH_JWKS_URL: 'ftp://x/jwks' })).toThrow(
        /AUTH_JWKS_URL must be a http:/,
      );
      expect(() => parseConfig({ ...base, AUTH_MODE: 'maybe' })).toThrow(/AUTH_MODE must be open or token/);
    });
  });
});
