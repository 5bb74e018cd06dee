export default async function globalTeardown() {
  const stack = globalThis.__squallStack ?? [];
  for (const stop of stack.reverse()) await stop().catch(() => undefined);
}
