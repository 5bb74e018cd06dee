import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { constraintViolation } from '../../src/infra/errors/database-constraints.js';
import { migrate } from '../support/database.js';

/**
 * Whatever validation misses, Postgres's own constraints answer with a 4xx
 * naming the field: each kind of violation, raised for real on the project's
 * tables, mapped as the HTTP error filter maps it.
 */
const violation = async (sql: string, params: unknown[]) => {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql, params);
    throw new Error('the statement succeeded');
  } catch (err) {
    if ((err as Error).message === 'the statement succeeded') throw err;
    return constraintViolation(err);
  } finally {
    await client.end();
  }
};

beforeAll(() => migrate(process.env.DATABASE_URL!));

const name = () => `c${randomUUID().slice(0, 8)}`;

describe('database constraint violations', () => {
  it('unique → 409 naming the column', async () => {
    const n = name();
    const sql = 'INSERT INTO namespaces (id, name) VALUES ($1, $2)';
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(sql, [randomUUID(), n]);
    await client.end();
    expect(await violation(sql, [randomUUID(), n])).toEqual({ status: 409, message: 'name already exists' });
  });

  it('foreign key → 409 naming the column', async () => {
    expect(
      await violation(`INSERT INTO messages (channel, seq, id, data) VALUES ($1, 1, $2, '1')`, [
        name(),
        randomUUID(),
      ]),
    ).toEqual({ status: 409, message: 'channel refers to something that does not exist' });
  });

  it('not null → 400 naming the field', async () => {
    expect(
      await violation('INSERT INTO namespaces (id, name, client_publish) VALUES ($1, $2, NULL)', [
        randomUUID(),
        name(),
      ]),
    ).toEqual({ status: 400, message: 'clientPublish is required' });
  });

  it('check → 400 naming the field', async () => {
    expect(
      await violation('INSERT INTO namespaces (id, name, history_max_per_channel) VALUES ($1, $2, -1)', [
        randomUUID(),
        name(),
      ]),
    ).toEqual({ status: 400, message: 'historyMaxPerChannel is out of range' });
  });

  it('anything else is not a constraint violation', async () => {
    expect(await violation('SELECT 1/0', [])).toBeUndefined();
  });
});
