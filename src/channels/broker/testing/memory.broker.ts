import type { Broker } from '../broker.js';

/**
 * In-process broker for unit tests of the hub, which can make it drop or
 * reorder on purpose. Not built into dist/ (testing/ folders never are).
 */
export class MemoryBroker implements Broker {
  readonly subscribed = new Set<string>();
  private messageHandler: (channel: string, json: string) => void = () => {};
  private resyncHandler: () => void = () => {};

  async publish(channel: string, json: string): Promise<void> {
    if (this.subscribed.has(channel)) queueMicrotask(() => this.messageHandler(channel, json));
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }

  onMessage(handler: (channel: string, json: string) => void): void {
    this.messageHandler = handler;
  }

  onResync(handler: () => void): void {
    this.resyncHandler = handler;
  }

  /** Delivers `json` as if it came from another instance. */
  inject(channel: string, json: string): void {
    this.messageHandler(channel, json);
  }

  resync(): void {
    this.resyncHandler();
  }
}
