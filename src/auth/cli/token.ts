/**
 * `npm run token -- --sub alice --subscribe 'chat:*' --publish 'chat:*' [--admin] [--ttl 1h]`
 * prints an HS256 token signed with the first secret of AUTH_JWT_SECRET (and
 * AUTH_ISSUER / AUTH_AUDIENCE when set), for development and operations.
 * Production dependencies only (jose), so it runs from an installed image.
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';

const USAGE =
  "usage: npm run token -- --sub <id> [--subscribe 'chat:*']... [--publish 'chat:*']... [--admin] [--ttl 1h]";

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        subscribe: { type: 'string', multiple: true, default: [] },
        publish: { type: 'string', multiple: true, default: [] },
        admin: { type: 'boolean', default: false },
        ttl: { type: 'string', default: '1h' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.sub) fail('--sub is required');
  if (!/^\d+\s*(s|m|h|d|w)$|^\d+\s*(sec|min|hour|day|week)s?$/.test(values.ttl)) {
    fail(`--ttl must be a duration such as 30m, 1h or 7d (got ${JSON.stringify(values.ttl)})`);
  }
  const secret = (process.env.AUTH_JWT_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .find(Boolean);
  if (!secret) fail('AUTH_JWT_SECRET is not set: it signs the token');
  if (secret.length < 32) fail('the first secret of AUTH_JWT_SECRET is shorter than 32 characters');
  let jwt = new SignJWT({
    ...(values.subscribe.length ? { subscribe: values.subscribe } : {}),
    ...(values.publish.length ? { publish: values.publish } : {}),
    ...(values.admin ? { admin: true } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(values.sub)
    .setIssuedAt()
    .setExpirationTime(values.ttl);
  if (process.env.AUTH_ISSUER) jwt = jwt.setIssuer(process.env.AUTH_ISSUER);
  if (process.env.AUTH_AUDIENCE) jwt = jwt.setAudience(process.env.AUTH_AUDIENCE);
  process.stdout.write(`${await jwt.sign(new TextEncoder().encode(secret))}\n`);
}

void main();
