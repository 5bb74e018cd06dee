import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { AppError } from '../infra/errors/app-error.js';
import { type AppConfig, InjectConfig } from '../infra/config/app-config.js';
import {
  type BackoffOptions,
  JOB_HANDLER,
  type JobHandlerInstance,
  type JobHandlerOptions,
} from './job-handler.decorator.js';
import { validatePayload } from './payload.js';

export const DEFAULT_ATTEMPTS = 3;
export const MAX_ATTEMPTS = 100;
export const DEFAULT_BACKOFF: BackoffOptions = { type: 'exponential', delayMs: 1000 };

/** A registered job type with every default resolved. */
export interface RegisteredHandler {
  name: string;
  /** The BullMQ queue that carries this type (one queue per type, so each has its own concurrency). */
  queue: string;
  concurrency: number;
  attempts: number;
  backoff: BackoffOptions;
  timeoutMs?: number;
  options: JobHandlerOptions;
  instance: JobHandlerInstance;
}

export const queueNameFor = (type: string) => `jobs.${type}`;

/** The pure part of the registry: checks and resolves handler declarations. */
export class HandlerTable {
  private readonly handlers = new Map<string, RegisteredHandler>();

  constructor(private readonly defaultConcurrency: number) {}

  add(options: JobHandlerOptions, instance: JobHandlerInstance, owner = 'handler'): RegisteredHandler {
    if (this.handlers.has(options.name)) {
      throw new Error(`job type ${options.name} is registered twice (${owner})`);
    }
    if (typeof instance?.run !== 'function') {
      throw new Error(`${owner} is a @JobHandler for ${options.name} but has no run(payload, ctx) method`);
    }
    const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
    const concurrency = options.concurrency ?? this.defaultConcurrency;
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
      throw new Error(`${options.name}: attempts must be an integer between 1 and ${MAX_ATTEMPTS}`);
    }
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`${options.name}: concurrency must be a positive integer`);
    }
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    if (!(backoff.delayMs >= 0)) throw new Error(`${options.name}: backoff.delayMs must be >= 0`);
    const handler: RegisteredHandler = {
      name: options.name,
      queue: queueNameFor(options.name),
      concurrency,
      attempts,
      backoff,
      timeoutMs: options.timeoutMs,
      options,
      instance,
    };
    this.handlers.set(options.name, handler);
    return handler;
  }

  get(type: string): RegisteredHandler | undefined {
    return this.handlers.get(type);
  }

  all(): RegisteredHandler[] {
    return [...this.handlers.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The handler for `type`, or a 400 naming the known types. */
  require(type: string): RegisteredHandler {
    const handler = this.handlers.get(type);
    if (!handler) {
      const known = this.all().map((h) => h.name);
      throw new AppError(
        'bad_request',
        `type ${JSON.stringify(type)} is not a registered job type (known: ${known.join(', ') || 'none'})`,
      );
    }
    return handler;
  }

  /** Validates a payload for `type`: the payload to store, or a 400 naming the field. */
  validate(type: string, payload: unknown): unknown {
    return validatePayload(this.require(type).options, payload);
  }
}

/**
 * Every provider decorated with @JobHandler, found with Nest's DiscoveryService
 * on first use (all providers exist by then). Every role has it: the API
 * validates submits with it, the worker runs the handlers.
 */
@Injectable()
export class JobRegistry {
  private readonly logger = new Logger(JobRegistry.name);
  private table?: HandlerTable;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  private get handlers(): HandlerTable {
    if (this.table) return this.table;
    const table = new HandlerTable(this.config.WORKER_CONCURRENCY);
    for (const wrapper of this.discovery.getProviders()) {
      const { metatype, instance } = wrapper;
      if (!metatype || typeof metatype !== 'function' || !instance) continue;
      const options = this.reflector.get<JobHandlerOptions | undefined>(JOB_HANDLER, metatype);
      if (options) table.add(options, instance as JobHandlerInstance, metatype.name);
    }
    this.logger.debug(
      `job types: ${
        table
          .all()
          .map((h) => h.name)
          .join(', ') || 'none'
      }`,
    );
    this.table = table;
    return table;
  }

  get(type: string): RegisteredHandler | undefined {
    return this.handlers.get(type);
  }

  require(type: string): RegisteredHandler {
    return this.handlers.require(type);
  }

  all(): RegisteredHandler[] {
    return this.handlers.all();
  }

  validate(type: string, payload: unknown): unknown {
    return this.handlers.validate(type, payload);
  }
}
