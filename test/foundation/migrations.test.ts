import { migrations } from '../../src/infra/database/migrations/index.js';
import { createEmptyDatabase, query } from '../support/database.js';
import { startInstance, stopAllInstances } from '../support/instance.js';

afterAll(stopAllInstances);

describe('migrations at start', () => {
  it('two instances started together on an empty database both become ready and apply the schema once', async () => {
    const url = await createEmptyDatabase();
    const [a, b] = await Promise.all([
      startInstance({ DATABASE_URL: url, ROLE: 'api' }),
      startInstance({ DATABASE_URL: url, ROLE: 'api' }),
    ]);
    const rows = await query<{ name: string }>(url, 'SELECT name FROM typeorm_migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => new m().name ?? m.name));
    for (const i of [a, b]) expect((await fetch(`${i.url}/health/ready`)).status).toBe(200);
    const logs = a.output() + b.output();
    expect(logs).not.toMatch(/already exists/);
  });
});
