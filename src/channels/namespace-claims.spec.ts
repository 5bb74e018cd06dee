import { Registry } from 'prom-client';
import type { AppConfig } from '../infra/config/app-config.js';
import { AppError } from '../infra/errors/app-error.js';
import type { NamespacesService } from '../namespaces/namespaces.service.js';
import type { Broker } from './broker/broker.js';
import { ChannelsService } from './channels.service.js';
import { Envelope } from './envelope.js';
import type { HubService } from './hub/hub.service.js';
import type { MessageStore } from './message.store.js';

/**
 * The claim rules of ChannelsService, with its store, hub and broker
 * recorded rather than real (the black-box 403s are in
 * test/channels/claimed-namespaces.test.ts).
 */
function world(clientPublish = true) {
  const stored: string[] = [];
  const ingested: string[] = [];
  const brokered: string[] = [];
  let seq = 0;
  const store = {
    set onOutcomeUnknown(_: unknown) {},
    publish: async (channel: string, dataJson: string) => {
      stored.push(channel);
      return {
        envelope: Envelope.fromRow(channel, ++seq, 'id', dataJson, '2026-01-01T00:00:00.000Z'),
        created: true,
      };
    },
  } as unknown as MessageStore;
  const hub = { ingest: (e: Envelope) => ingested.push(e.channel) } as unknown as HubService;
  const namespaces = { policyFor: async () => ({ clientPublish }) } as unknown as NamespacesService;
  const broker = {
    publish: async (channel: string) => void brokered.push(channel),
  } as unknown as Broker;
  const config = { MAX_MESSAGE_BYTES: 1024 } as AppConfig;
  const channels = new ChannelsService(store, hub, namespaces, broker, config, new Registry());
  return { channels, stored, ingested, brokered };
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => (err instanceof AppError ? err.code : err),
  );

describe('ChannelsService.claimNamespace', () => {
  it('refuses every other publish to a claimed namespace, and only there', async () => {
    const { channels, stored } = world();
    channels.claimNamespace('job');
    expect(await refusal(channels.publish('job:1', { forged: true }))).toBe('forbidden');
    expect(await refusal(channels.publish('jobx:1', 1))).toBeUndefined();
    expect(await refusal(channels.publish('job', 1))).toBeUndefined(); // no namespace at all
    expect(stored).toEqual(['jobx:1', 'job']);
  });

  it('lets its publisher write there, past clientPublish, with the usual checks and fan-out', async () => {
    const { channels, stored, ingested, brokered } = world(false);
    const publisher = channels.claimNamespace('sys');
    const { message, created } = await publisher.publish('sys:stats', { n: 1 });
    expect(created).toBe(true);
    expect(message).toMatchObject({ channel: 'sys:stats', seq: 1, data: { n: 1 } });
    expect([stored, ingested, brokered]).toEqual([['sys:stats'], ['sys:stats'], ['sys:stats']]);
    expect(await refusal(publisher.publish('sys:stats', 'x'.repeat(2000)))).toBe('payload_too_large');
    expect(await refusal(publisher.publish('sys:a b', 1))).toBe('bad_request');
  });

  it('keeps the publisher inside its namespace, for a publish and for an announced commit', async () => {
    const { channels, ingested } = world();
    const publisher = channels.claimNamespace('job');
    await expect(publisher.publish('chat:1', 1)).rejects.toThrow(/cannot write to channel chat:1/);
    const outside = Envelope.fromRow('jobs:1', 1, 'id', '{}', '2026-01-01T00:00:00.000Z');
    expect(() => publisher.announceCommitted(outside)).toThrow(/cannot write to channel jobs:1/);
    publisher.announceCommitted(Envelope.fromRow('job:1', 1, 'id', '{}', '2026-01-01T00:00:00.000Z'));
    expect(ingested).toEqual(['job:1']);
  });

  it('claims a namespace once: a second claim, or a name that is no namespace, throws', () => {
    const { channels } = world();
    channels.claimNamespace('job');
    expect(() => channels.claimNamespace('job')).toThrow(/already claimed/);
    expect(() => channels.claimNamespace('a:b')).toThrow(/not a namespace name/);
    expect(() => channels.claimNamespace('')).toThrow(/not a namespace name/);
  });
});
