/** A minimal typed event emitter: no dependency on Node's `events`, so it runs in browsers. */
export class Emitter<Events extends object> {
  private listeners = new Map<keyof Events, Set<(event: never) => void>>();

  /** Calls `listener` for each `name` event; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: (event: Events[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  protected emit<K extends keyof Events>(name: K, event: Events[K]): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        (listener as (event: Events[K]) => void)(event);
      } catch (err) {
        // A throwing listener must not break the SDK's own state machine.
        reportLater(err);
      }
    }
  }
}

/** Rethrows outside the current call stack, where the host reports uncaught errors. */
export function reportLater(err: unknown): void {
  setTimeout(() => {
    throw err;
  }, 0);
}
