import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROLES, configFields } from '../../src/infra/config/config.schema.js';

/**
 * docker/k8s/ is a sketch nobody applies in CI: this keeps it honest. Every
 * file parses as YAML, the expected kinds are there, probes and drain settings
 * are the ones docs/scaling.md promises, selectors meet their pods, and every
 * setting, metric and command it names exists in the code.
 */
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dir = 'docker/k8s';
const docs: Doc[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as Doc;
    }),
  );
const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
const named = (kind: string, name: string) => {
  const doc = ofKind(kind).find((d) => d.metadata.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in ${dir}`);
  return doc;
};
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const config = named('ConfigMap', 'squall').data as Record<string, string>;

describe('the Kubernetes sketch in docker/k8s', () => {
  it('holds the api and worker Deployments, the migration Job, a Service, a PDB and an HPA', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ConfigMap/squall',
      'Deployment/squall-api',
      'Deployment/squall-worker',
      'HorizontalPodAutoscaler/squall-api',
      'Job/squall-migrate',
      'PodDisruptionBudget/squall-api',
      'Service/squall',
    ]);
  });

  it('sets only variables the config schema knows, with values it accepts', () => {
    const known = Object.keys(configFields.shape);
    expect(Object.keys(config).filter((k) => !known.includes(k))).toEqual([]);
    const parsed = configFields.partial().safeParse(config);
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it.each(['squall-api', 'squall-worker'])('%s: probes, roles, drain time and selector', (name) => {
    const deployment = named('Deployment', name);
    const pod = deployment.spec.template;
    expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    const [container] = pod.spec.containers;
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/health/ready', port: 'http' });
    // Liveness must not follow Postgres or Redis: a blip would restart every pod.
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/health/live', port: 'http' });
    expect(container.ports).toContainEqual({ name: 'http', containerPort: Number(config.PORT) });
    const role = container.env.find((e: Doc) => e.name === 'ROLE').value as string;
    expect(role.split(',').every((r) => (ROLES as readonly string[]).includes(r))).toBe(true);
    expect(container.envFrom).toEqual([
      { configMapRef: { name: 'squall' } },
      { secretRef: { name: 'squall' } },
    ]);
    // Kubernetes SIGKILLs after the grace period: the pause and the whole drain must fit.
    const pause = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(
      pause + Number(config.SHUTDOWN_TIMEOUT_MS) / 1000,
    );
  });

  it('the api pods pause before SIGTERM so the endpoint is gone before the drain starts', () => {
    const [container] = named('Deployment', 'squall-api').spec.template.spec.containers;
    expect(container.lifecycle.preStop.exec.command[0]).toBe('sleep');
    expect(container.env.find((e: Doc) => e.name === 'ROLE').value).toBe('api,gateway');
  });

  it('migrates in a Job with a command that exists in the build, and pods do not migrate at start', () => {
    const [container] = named('Job', 'squall-migrate').spec.template.spec.containers;
    const [node, script] = container.command as string[];
    expect(node).toBe('node');
    expect(existsSync(script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))).toBe(true);
    expect(config.MIGRATIONS_RUN).toBe('false');
  });

  it('the Service, the PDB and the HPA all point at the api pods', () => {
    const apiLabels = named('Deployment', 'squall-api').spec.template.metadata.labels;
    expect(matches(named('Service', 'squall').spec.selector, apiLabels)).toBe(true);
    expect(matches(named('PodDisruptionBudget', 'squall-api').spec.selector.matchLabels, apiLabels)).toBe(
      true,
    );
    const hpa = named('HorizontalPodAutoscaler', 'squall-api');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'squall-api' });
  });

  it('scales on a connections metric the instances export', () => {
    const hpa = named('HorizontalPodAutoscaler', 'squall-api');
    const metric = hpa.spec.metrics.find((m: Doc) => m.type === 'Pods').pods.metric.name as string;
    const source = readFileSync('src/infra/metrics/connections.metric.ts', 'utf8');
    expect(source).toContain(`name: '${metric}'`);
  });
});
