import type { DataSource } from 'typeorm';
import { PreparedQueries } from './prepared-queries.js';

/** A DataSource whose pool fails named statements with `code`, as a pooler that does not track them would. */
function fake(code?: string) {
  const named: string[] = [];
  const unnamed: string[] = [];
  const db = {
    driver: {
      master: {
        query: async (q: { name: string; text: string }) => {
          named.push(q.name);
          if (code) throw Object.assign(new Error('prepared statement lost'), { code });
          return { rows: [{ via: 'named' }] };
        },
      },
    },
    query: async (text: string) => {
      unnamed.push(text);
      return [[{ via: 'unnamed' }], 1];
    },
  } as unknown as DataSource;
  return { prepared: new PreparedQueries(db), named, unnamed };
}

describe('PreparedQueries', () => {
  it('names each statement text once, the same name every time', async () => {
    const t = fake();
    expect(await t.prepared.rows('SELECT 1', [])).toEqual([{ via: 'named' }]);
    await t.prepared.rows('SELECT 1', []);
    await t.prepared.rows('SELECT 2', []);
    expect(t.named[0]).toBe(t.named[1]);
    expect(t.named[2]).not.toBe(t.named[0]);
    expect(t.unnamed).toEqual([]);
  });

  it.each(['26000', '42P05'])(
    'after a lost prepared statement (%s) sends that statement again, and every later one, unnamed',
    async (code) => {
      const t = fake(code);
      expect(await t.prepared.rows('UPDATE a', [])).toEqual([{ via: 'unnamed' }]);
      await t.prepared.rows('UPDATE b', []);
      expect(t.named).toHaveLength(1);
      expect(t.unnamed).toEqual(['UPDATE a', 'UPDATE b']);
    },
  );

  it('passes any other error on, without retrying', async () => {
    const t = fake('23505');
    await expect(t.prepared.rows('INSERT a', [])).rejects.toMatchObject({ code: '23505' });
    expect(t.unnamed).toEqual([]);
  });
});
