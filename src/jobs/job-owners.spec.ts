import type { ChannelAccess, ReadRule } from '../auth/channel-access.js';
import type { Principal } from '../auth/principal.js';
import { JobOwners } from './job-owners.js';
import type { JobsStore } from './jobs.store.js';

/** The `job` read rule and its owner cache, against a store that counts its queries. */
const ALICE_JOB = '00000000-0000-4000-8000-00000000000a';
const OPEN_JOB = '00000000-0000-4000-8000-00000000000b';
const MISSING = '00000000-0000-4000-8000-00000000000c';

function setup() {
  const queries: string[] = [];
  const owners = new Map<string, string | null>([
    [ALICE_JOB, 'alice'],
    [OPEN_JOB, null],
  ]);
  const store = {
    ownerOf: async (id: string) => {
      queries.push(id);
      await Promise.resolve();
      return owners.has(id) ? owners.get(id) : undefined;
    },
  } as unknown as JobsStore;
  const rules = new Map<string, ReadRule>();
  const access = { registerReadRule: (ns: string, rule: ReadRule) => rules.set(ns, rule) };
  const jobOwners = new JobOwners(store, access as unknown as ChannelAccess);
  jobOwners.onModuleInit();
  return { jobOwners, queries, owners, rule: rules.get('job')! };
}

const user = (sub: string | null): Principal => ({
  sub,
  admin: false,
  subscribe: ['job:*'],
  publish: [],
  expiresAt: null,
});

describe('JobOwners', () => {
  it("registers the job namespace's rule: the owner reads, anyone else does not", async () => {
    const { rule } = setup();
    expect(await rule(user('alice'), `job:${ALICE_JOB}`)).toBe(true);
    expect(await rule(user('bob'), `job:${ALICE_JOB}`)).toBe(false);
    // An open-mode job has no owner: no token's sub matches it, only admins read it.
    expect(await rule(user('alice'), `job:${OPEN_JOB}`)).toBe(false);
    expect(await rule(user(null), `job:${OPEN_JOB}`)).toBe(false);
    expect(await rule(user('alice'), `job:${MISSING}`)).toBe(false);
    expect(await rule(user('alice'), 'job:not-a-uuid')).toBe(false);
    expect(await rule({ ...user(null), admin: true }, `job:${MISSING}`)).toBe(true);
  });

  it('asks the store once per job, concurrent lookups included; a missing job is asked again', async () => {
    const { rule, queries, owners } = setup();
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => rule(user('alice'), `job:${ALICE_JOB}`)),
    );
    expect(reads.every(Boolean)).toBe(true);
    expect(await rule(user('bob'), `job:${ALICE_JOB.toUpperCase()}`)).toBe(false);
    expect(queries).toEqual([ALICE_JOB]);
    // Not there yet (its submit is still committing elsewhere), then there: found.
    expect(await rule(user('carol'), `job:${MISSING}`)).toBe(false);
    owners.set(MISSING, 'carol');
    expect(await rule(user('carol'), `job:${MISSING}`)).toBe(true);
    expect(queries).toEqual([ALICE_JOB, MISSING, MISSING]);
  });

  it('knows a job submitted here without asking, and keeps at most 10,000 owners', async () => {
    const { jobOwners, rule, queries } = setup();
    jobOwners.remember(MISSING, 'dave');
    expect(await rule(user('dave'), `job:${MISSING}`)).toBe(true);
    expect(queries).toEqual([]);
    for (let i = 0; i < 10_000; i++) jobOwners.remember(`id-${i}`, 'x');
    // The least recently used (MISSING) went out; the rest stay.
    expect(await jobOwners.ownerOf(MISSING)).toBeUndefined();
    expect(await jobOwners.ownerOf('id-9999')).toBe('x');
    expect(queries).toEqual([MISSING]);
  });
});
