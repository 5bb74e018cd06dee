import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createEmptyDatabase, query } from '../support/database.js';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import { type Walkthrough, apply, touchedFiles, walkthrough } from './guide-blocks.js';

/**
 * docs/extending.md cannot rot: a copy of the project gets the job type
 * (walkthrough 1) and the REST resource (walkthrough 2) exactly as the guide
 * writes them, must compile, and runs as a real instance on an empty
 * database, where the new job completes, the new resource answers as the
 * guide says, and the schema check finds the new migration and entity agree.
 */
const run = promisify(execFile);
const repo = process.cwd();
const guide = readFileSync(join(repo, 'docs', 'extending.md'), 'utf8');
const job = walkthrough(guide, '1.');
const resource = walkthrough(guide, '2.');

let copy: string;
let databaseUrl: string;
let app: Instance;

/** The project as a fork starts it: sources and build config, node_modules shared (read-only). */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'squall-guide-'));
  cpSync(join(repo, 'src'), join(dir, 'src'), { recursive: true });
  const config = (f: string) => f === 'package.json' || f === '.prettierrc' || /^tsconfig.*\.json$/.test(f);
  for (const file of readdirSync(repo).filter(config)) {
    cpSync(join(repo, file), join(dir, file));
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** `tsc` output is what a fork would see; on failure it is the whole message. */
async function build(dir: string): Promise<void> {
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`the guide's code does not compile:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

beforeAll(async () => {
  copy = copyProject();
  apply(copy, job);
  apply(copy, resource);
  await build(copy);
  databaseUrl = await createEmptyDatabase('squall_guide');
  app = await startInstance(
    {
      DATABASE_URL: databaseUrl,
      // Keeps this copy's queues and channels apart from other suites sharing the Redis.
      REDIS_KEY_PREFIX: `squall-guide-${process.pid}-${Date.now().toString(36)}`,
    },
    { root: copy },
  );
}, 180_000);

afterAll(async () => {
  await stopAllInstances();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe('docs/extending.md', () => {
  it.each([
    ['1. a job type', job],
    ['2. a REST resource', resource],
  ])('walkthrough %s touches as many files as it says', (_, w: Walkthrough) => {
    expect(touchedFiles(w).size).toBe(w.statedFiles);
  });

  it("writes its new files in the project's style (a fork's npm run lint checks them)", async () => {
    const created = [...job.changes, ...resource.changes].filter((c) => c.kind === 'file').map((c) => c.path);
    const prettier = join(repo, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
    expect(created.length).toBeGreaterThan(0);
    // prettier --check exits non-zero naming each file that differs.
    await run(process.execPath, [prettier, '--check', ...created], { cwd: copy }).catch((err) => {
      throw new Error(`not in the project's style:\n${(err as { stderr: string }).stderr}`);
    });
  });

  describe('1. the job type', () => {
    const finished = (id: string) =>
      waitFor(
        async () => {
          const { body } = await get(app.url, `/v1/jobs/${id}`);
          return ['completed', 'failed', 'cancelled'].includes(body.state) ? body : undefined;
        },
        { what: `job ${id} to finish` },
      );

    it('is registered in the api role with its options', async () => {
      const { body } = await get(app.url, '/v1/jobs/types');
      expect(body.types).toContainEqual(
        expect.objectContaining({ name: 'channels.count', attempts: 5, concurrency: 2 }),
      );
    });

    it('runs to completion with its result', async () => {
      const channel = uniqueChannel('stats');
      for (let n = 1; n <= 3; n++) {
        expect((await post(app.url, `/v1/channels/${channel}/messages`, { data: { n } })).status).toBe(201);
      }
      const submit = await post(app.url, '/v1/jobs', {
        type: 'channels.count',
        payload: { channel, pageSize: 2 },
      });
      expect(submit.status).toBe(202);
      const done = await finished(submit.body.id);
      expect(done).toMatchObject({ state: 'completed', progress: 100, result: { messages: 3, lastSeq: 3 } });
    });

    it('fails without retries on PermanentJobError, and rejects a bad payload at submit', async () => {
      const submit = await post(app.url, '/v1/jobs', {
        type: 'channels.count',
        payload: { channel: uniqueChannel('never') },
      });
      const done = await finished(submit.body.id);
      expect(done).toMatchObject({
        state: 'failed',
        attempts: 1,
        error: expect.stringContaining('never written'),
      });

      const bad = await post(app.url, '/v1/jobs', { type: 'channels.count', payload: { channel: 'a b' } });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^payload\.channel/);
    });
  });

  describe('2. the REST resource', () => {
    const slug = `lobby-${process.pid}`;

    it('creates (201) and reads (200) a room', async () => {
      const created = await post(app.url, '/v1/rooms', { slug, title: 'Lobby', archived: null });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        slug,
        title: 'Lobby',
        archived: false,
        maxMembers: null,
      });
      const read = await get(app.url, `/v1/rooms/${slug}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      expect((await get(app.url, '/v1/rooms')).body.rooms).toContainEqual(created.body);
      expect((await get(app.url, '/v1/rooms/nope')).status).toBe(404);
    });

    it('answers a duplicate slug with 409 and an unknown field with 400, naming them', async () => {
      const again = `dup-${process.pid}`;
      expect((await post(app.url, '/v1/rooms', { slug: again, title: 'A' })).status).toBe(201);
      const duplicate = await post(app.url, '/v1/rooms', { slug: again, title: 'B' });
      expect(duplicate).toMatchObject({ status: 409, body: { message: 'slug already exists' } });
      const unknown = await post(app.url, '/v1/rooms', {
        slug: `x-${process.pid}`,
        title: 'X',
        colour: 'red',
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toContain('property colour should not exist');
    });

    it("passes the schema check: the copy's migrations build exactly its entities", async () => {
      // The schema check of test/foundation/schema.test.ts, run on the copy's
      // build (its entities.ts and migrations), against the database the
      // instance migrated at start.
      const script = join(copy, 'schema-check.mjs');
      writeFileSync(
        script,
        `import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './dist/infra/database/data-source-options.js';
import { entities } from './dist/entities.js';
import { runMigrationsLocked } from './dist/infra/database/migrate.js';
const db = await new DataSource({
  ...dataSourceOptions({ DATABASE_URL: process.env.DATABASE_URL, DATABASE_POOL_SIZE: 2 }),
  entities,
}).initialize();
try {
  await runMigrationsLocked(db);
  const pending = await db.driver.createSchemaBuilder().log();
  console.log(JSON.stringify({ entities: entities.map((e) => e.name), pending: pending.upQueries.map((q) => q.query) }));
} finally {
  await db.destroy();
}
`,
      );
      const { stdout } = await run(process.execPath, [script], {
        cwd: copy,
        env: { ...process.env, DATABASE_URL: databaseUrl },
      });
      const result = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(result.entities).toContain('RoomEntity');
      expect(result.pending).toEqual([]);
      const applied = await query<{ name: string }>(databaseUrl, 'SELECT name FROM typeorm_migrations');
      expect(applied.map((m) => m.name)).toContainEqual(expect.stringMatching(/^Rooms\d+$/));
    });
  });
});
