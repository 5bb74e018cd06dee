import { Inject, Injectable, Logger, BeforeApplicationShutdown } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { AppError } from '../infra/errors/app-error.js';
import { isInvalidDataError } from '../infra/errors/database-errors.js';
import { checkJsonValue } from '../infra/http/json-limits.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import { InjectMetrics } from '../infra/metrics/metrics.js';
import { BROKER, type Broker } from './broker/broker.js';
import { CHANNEL_NAME, assertChannelName, namespaceOf } from './channel-name.js';
import type { Envelope } from './envelope.js';
import { HubService } from './hub/hub.service.js';
import { RESYNC_HINT, type SubscribeResult } from './hub/hub.js';
import type { Subscriber } from './hub/subscriber.js';
import { NamespacesService } from '../namespaces/namespaces.service.js';
import { MessageStore } from './message.store.js';
import { type NamespacePublisher, type Published, namespacePublisher } from './namespace-publisher.js';
import { ConnectionsMetric } from '../infra/metrics/connections.metric.js';
import { SingleFlight } from '../lib/single-flight.js';

/** What transports hand the hub, and get back for a subscription: the only hub types they see. */
export type { Subscriber };
export type ChannelSubscription = SubscribeResult;
export type { NamespacePublisher, Published };

export interface PublishOptions {
  idempotencyKey?: string;
}

export interface Page {
  messages: Envelope[];
  /** The seq to pass as `after` next: the last message returned, or the channel's head when none. */
  lastSeq: number;
  hasMore?: boolean;
  /** Retention had removed messages right after `after`. */
  truncated?: boolean;
}

/**
 * The one entry point for channels, used by every transport (REST, SSE, long
 * poll, WebSocket) and by jobs. Transports never touch the store or hub.
 */
@Injectable()
export class ChannelsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ChannelsService.name);
  private readonly published: Counter;
  private readonly connections: ConnectionsMetric;
  /** Long polls waiting on the hub (squall_connections{transport="long_poll"}). */
  private waitingPolls = 0;
  /** Open long polls and streams, ended first at shutdown so the HTTP server can close. */
  private readonly drains = new Set<() => void>();
  /** First looks at history by long polls, shared by identical concurrent polls (see poll). */
  private readonly pollReads = new SingleFlight<Envelope[]>();
  private closing = false;
  /** Namespaces a module claimed (see {@link claimNamespace}): no client publish reaches them. */
  private readonly claimed = new Set<string>();

  constructor(
    private readonly store: MessageStore,
    private readonly hub: HubService,
    private readonly namespaces: NamespacesService,
    @Inject(BROKER) private readonly broker: Broker,
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
  ) {
    this.published = new Counter({
      name: 'squall_messages_published_total',
      help: 'Messages committed by this instance',
      registers: [registry],
    });
    this.connections = ConnectionsMetric.of(registry);
    this.connections.source('long_poll', () => this.waitingPolls);
    store.onOutcomeUnknown = (channels) => this.hintResync(channels);
  }

  /**
   * Publishes that failed with an unknown outcome (the connection broke
   * mid-statement) may have committed after all, unannounced: every hub
   * following these channels, here and through the broker, reads them from
   * Postgres now instead of at its next sweep.
   */
  private hintResync(channels: string[]): void {
    for (const channel of channels) {
      this.hub.hint(channel);
      this.broker.publish(channel, RESYNC_HINT).catch((err: Error) => {
        this.logger.warn({ msg: 'resync hint failed (hubs will sweep)', channel, err: err.message });
      });
    }
  }

  /**
   * Makes `namespace` the claimer's alone: from now on {@link publish} refuses
   * it (403, whoever asks, admins included) and only the returned publisher
   * writes there. Once per namespace: a second claim is a startup error,
   * since two modules cannot both own a namespace. Claim in a constructor so
   * a clash stops the start.
   */
  claimNamespace(namespace: string): NamespacePublisher {
    if (!CHANNEL_NAME.test(namespace) || namespace.includes(':')) {
      throw new Error(`cannot claim namespace ${JSON.stringify(namespace)}: not a namespace name`);
    }
    if (this.claimed.has(namespace)) throw new Error(`namespace ${namespace}: is already claimed`);
    this.claimed.add(namespace);
    return namespacePublisher(
      namespace,
      (channel, data, idempotencyKey) => {
        this.assertChannel(channel);
        return this.commit(channel, this.checkData(data), idempotencyKey);
      },
      (envelope) => this.fanOut(envelope),
    );
  }

  /**
   * A client's publish (every transport's): refused in a claimed namespace
   * and where the namespace's settings say clients may not publish; then
   * committed like any message (see {@link commit}).
   */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<Published> {
    this.assertChannel(channel);
    const namespace = namespaceOf(channel);
    if (namespace !== null && this.claimed.has(namespace)) {
      throw new AppError('forbidden', `channel ${channel} is written only by the service`);
    }
    const dataJson = this.checkData(data);
    if (!(await this.namespaces.policyFor(channel)).clientPublish) {
      throw new AppError('forbidden', `clients may not publish in namespace ${namespace}`);
    }
    return this.commit(channel, dataJson, options.idempotencyKey);
  }

  /**
   * Commits the message to Postgres (assigning its seq), then fans it out: to
   * this instance's hub directly and to the others through the broker. The
   * broker publish is not awaited: a Redis outage must not fail an
   * acknowledged write (ioredis queues it, and hubs resync from Postgres).
   */
  private async commit(channel: string, dataJson: string, idempotencyKey?: string): Promise<Published> {
    const { envelope, created } = await this.store
      .publish(channel, dataJson, idempotencyKey)
      .catch((err: unknown) => {
        if (isInvalidDataError(err)) {
          throw new AppError('bad_request', `data cannot be stored: ${(err as Error).message}`);
        }
        throw err;
      });
    if (created) this.fanOut(envelope);
    return { message: envelope.message, envelope, created };
  }

  /** The data as stored: present, within the JSON limits and MAX_MESSAGE_BYTES serialised. */
  private checkData(data: unknown): string {
    if (data === undefined) throw new AppError('bad_request', 'data is required');
    checkJsonValue(data, 'data');
    const dataJson = JSON.stringify(data);
    const size = Buffer.byteLength(dataJson);
    if (size > this.config.MAX_MESSAGE_BYTES) {
      throw new AppError(
        'payload_too_large',
        `data is ${size} bytes serialised; the limit is ${this.config.MAX_MESSAGE_BYTES}`,
      );
    }
    return dataJson;
  }

  /** A committed message to this instance's hub and, not awaited, to the others through the broker. */
  private fanOut(envelope: Envelope): void {
    this.published.inc();
    this.hub.ingest(envelope);
    this.broker.publish(envelope.channel, envelope.json()).catch((err: Error) => {
      this.logger.warn({
        msg: 'broker publish failed (hubs will resync)',
        channel: envelope.channel,
        err: err.message,
      });
    });
  }

  async history(channel: string, after: number, limit: number): Promise<Page> {
    this.assertChannel(channel);
    const rows = await this.store.history(channel, after, limit + 1);
    const hasMore = rows.length > limit;
    const messages = hasMore ? rows.slice(0, limit) : rows;
    const lastSeq = messages.length
      ? messages[messages.length - 1].seq
      : await this.emptyPageSeq(channel, after);
    // Seqs have no gaps, so a first message past after+1 (or none, below the
    // head) means retention removed what came right after `after`.
    const truncated = messages.length ? messages[0].seq > after + 1 : lastSeq > after;
    return { messages, lastSeq, hasMore, truncated };
  }

  /** History retention (run once per cluster by the jobs maintenance scheduler). Returns rows deleted. */
  prune(options: { maxPerChannel: number; ttlSeconds: number }): Promise<number> {
    return this.store.prune(options);
  }

  /** The channel's last seq in Postgres (0 for a channel never written): no instance's lag shows. */
  async lastSeq(channel: string): Promise<number> {
    this.assertChannel(channel);
    return this.store.lastSeq(channel);
  }

  /** Joins the channel; call {@link start} once the subscribe has been answered. */
  subscribe(channel: string, subscriber: Subscriber, after?: number): Promise<ChannelSubscription> {
    this.assertChannel(channel);
    return this.hub.subscribe(channel, subscriber, after);
  }

  start(result: ChannelSubscription, pageSize?: number): Promise<void> {
    return this.hub.start(result.subscription, pageSize);
  }

  unsubscribe(result: ChannelSubscription): void {
    this.hub.unsubscribe(result.subscription);
  }

  /**
   * Long poll: answers at once from history when messages after `after` are
   * already there, otherwise waits on the hub and answers as soon as any
   * message has `seq > after` (batching what arrives in the same tick), or
   * with none at the timeout, at shutdown, or when the returned `leave` is
   * called (the client went away). Costs no Postgres query while waiting.
   *
   * `answer` is called exactly once, unless the poll was left first. The
   * promise settles as soon as the poll is answered or waiting (and rejects
   * only before that: a bad channel, Postgres down), so the caller's request
   * pipeline does not stay alive for the whole wait: with thousands of
   * pending polls, each one's held frames were most of its memory.
   */
  async poll(
    channel: string,
    after: number,
    timeoutMs: number,
    limit: number,
    answer: (page: Page) => void,
  ): Promise<() => void> {
    // A client behind the head (a poll loop on a busy channel) is answered
    // from history: joining and leaving the channel would cost more, and a
    // Redis SUBSCRIBE/UNSUBSCRIBE pair when no one else here follows it. So
    // is a client ahead of this instance's hub (it read from a busier
    // instance): Postgres may already hold what the hub has yet to hear of.
    // Polls that ask for the same page at the same time share one read: a
    // fresh instance behind the balancer gets thousands of polls at once on
    // channels it does not follow yet, and one query each exhausted the pool.
    this.assertChannel(channel);
    const known = this.hub.knownLastSeq(channel);
    if (known !== after) {
      // Just behind this instance's head: the recent window has it, no query.
      const recent =
        known !== undefined && after < known ? this.hub.recentAfter(channel, after, limit) : undefined;
      const rows =
        recent ??
        (await this.pollReads.run(`${channel}\0${after}\0${limit}`, () =>
          this.store.history(channel, after, limit),
        ));
      if (rows.length > 0) {
        answer({ messages: rows, lastSeq: rows[rows.length - 1].seq, truncated: rows[0].seq > after + 1 });
        return noop;
      }
    }
    const wait = new PollWait(this, limit, answer);
    // Nothing can end the wait before this: delivery, the timer, shutdown
    // and `leave` all start below.
    wait.result = await this.subscribe(channel, wait, after);
    this.waitingPolls++;
    if (this.closing) {
      wait.finish();
      return noop;
    }
    this.drains.add(wait.finish);
    const replayed = this.start(wait.result, limit);
    // timeout=0 answers with what history holds, so it waits for the replay;
    // any other timeout runs from now, replay included.
    if (wait.done) return noop;
    if (timeoutMs > 0) wait.timer = setTimeout(wait.finish, timeoutMs);
    else void replayed.then(() => setImmediate(wait.finish));
    return wait.leave;
  }

  /** Ends a waiting poll's hold on the service (see {@link PollWait}); not for transports. */
  pollEnded(wait: PollWait): void {
    this.waitingPolls--;
    this.drains.delete(wait.finish);
    this.hub.unsubscribe(wait.result!.subscription);
  }

  /**
   * Registers a callback that ends a long-lived response at shutdown; returns
   * its remover. Once shutdown has begun, the callback runs at once.
   */
  onShutdown(drain: () => void): () => void {
    if (this.closing) {
      drain();
      return () => undefined;
    }
    this.drains.add(drain);
    return () => this.drains.delete(drain);
  }

  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const drain of [...this.drains]) drain();
    this.drains.clear();
  }

  /**
   * `lastSeq` of a page with no messages after `after`: the channel's head.
   * The hub's position serves (no query) once it has reached `after`;
   * otherwise it may lag Postgres, and answering with it would send a client
   * following `after = lastSeq` backwards into messages it already has, so
   * Postgres says where the channel stands.
   */
  private async emptyPageSeq(channel: string, after: number): Promise<number> {
    const known = this.hub.knownLastSeq(channel);
    if (known !== undefined && known >= after) return known;
    return Math.max(known ?? 0, await this.store.lastSeq(channel));
  }

  private assertChannel(channel: string): void {
    assertChannelName(channel);
  }
}

const noop = () => undefined;

/**
 * One long poll waiting on the hub: its subscriber, `finish` (what arrived
 * so far, or none) that delivery, the timer and shutdown call, and `leave`
 * for a client gone. A class with shared methods rather than a closure per
 * callback and an AbortController per poll: thousands wait at once.
 */
class PollWait implements Subscriber {
  private readonly messages: Envelope[] = [];
  private scheduled = false;
  done = false;
  result?: ChannelSubscription;
  timer?: NodeJS.Timeout;

  constructor(
    private readonly service: ChannelsService,
    private readonly limit: number,
    private answer: ((page: Page) => void) | undefined,
  ) {}

  deliver(envelope: Envelope): void {
    if (this.messages.length >= this.limit) return;
    this.messages.push(envelope);
    if (this.messages.length >= this.limit) this.finish();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.finish);
    }
  }

  overflow(): void {
    this.finish();
  }

  /**
   * Answers with what has arrived (none at the timeout). Also cancels the
   * subscription, which stops a history replay still in progress: a poll
   * never reads more than it answers.
   */
  readonly finish = (): void => {
    if (this.done) return;
    const answer = this.answer;
    this.end();
    const result = this.result!;
    const { messages } = this;
    const lastSeq = messages.length ? messages[messages.length - 1].seq : Math.max(result.lastSeq, 0);
    answer?.({ messages, lastSeq, truncated: result.truncated });
  };

  /** The client went away: free the wait at once, answer nothing. */
  readonly leave = (): void => {
    this.answer = undefined;
    if (!this.done) this.end();
  };

  private end(): void {
    this.done = true;
    this.answer = undefined;
    clearTimeout(this.timer);
    this.service.pollEnded(this);
  }
}
