import type { Instance } from './instance.js';
import { waitFor } from './wait-for.js';

/**
 * One value from an instance's /metrics: the first series of metric `name`,
 * or the first line matching `pattern` (to pick labels). A series not
 * exported yet (a counter never incremented) reads as 0.
 */
export async function metric(instance: Pick<Instance, 'url'>, selector: string | RegExp): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  const pattern = typeof selector === 'string' ? new RegExp(`^${selector}(\\{|\\s)`) : selector;
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Waits until a metric on `instance` satisfies `ok` — for states only /metrics reveals. */
export function waitForMetric(
  instance: Pick<Instance, 'url'>,
  selector: string | RegExp,
  ok: (value: number) => boolean,
): Promise<void> {
  return waitFor(async () => ok(await metric(instance, selector)), {
    what: `${String(selector)} on ${instance.url}`,
  }).then(() => undefined);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** /metrics parsed: metric families by name (from # TYPE) and every sample. */
export async function scrape(
  instance: Pick<Instance, 'url'>,
): Promise<{ families: Map<string, string>; samples: Sample[] }> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  const families = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1], type[2]);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample) {
      const labels = Object.fromEntries(
        [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]),
      );
      samples.push({ name: sample[1], labels, value: Number(sample[3]) });
    }
  }
  return { families, samples };
}
