import type { Instance } from './instance.js';
import { waitFor } from './wait-for.js';

/** One gauge or counter (first series) from an instance's /metrics (NaN when absent). */
export async function metric(instance: Pick<Instance, 'url'>, name: string): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

/** Waits until `name` on `instance` satisfies `ok` — for states only /metrics reveals. */
export function waitForMetric(
  instance: Pick<Instance, 'url'>,
  name: string,
  ok: (value: number) => boolean,
): Promise<void> {
  return waitFor(async () => ok(await metric(instance, name)), { what: `${name} on ${instance.url}` }).then(
    () => undefined,
  );
}
