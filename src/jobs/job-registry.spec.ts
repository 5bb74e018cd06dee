import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AppError } from '../infra/errors/app-error.js';
import type { JobContext, JobHandlerInstance } from './job-handler.decorator.js';
import { JobHandler, JOB_HANDLER } from './job-handler.decorator.js';
import { HandlerTable } from './job-registry.js';

class Payload {
  @IsInt()
  @Min(1)
  @Max(10)
  n!: number;

  @IsOptional()
  @IsInt()
  extra: number = 7;
}

const instance: JobHandlerInstance = { run: async (_p: unknown, _c: JobContext) => null };

function rejection(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('HandlerTable', () => {
  it('resolves defaults', () => {
    const table = new HandlerTable(4);
    const h = table.add({ name: 'a.b' }, instance);
    expect(h).toMatchObject({
      name: 'a.b',
      queue: 'jobs.a.b',
      concurrency: 4,
      attempts: 3,
      backoff: { type: 'exponential', delayMs: 1000 },
    });
    expect(table.add({ name: 'c', concurrency: 2, attempts: 1 }, instance)).toMatchObject({
      concurrency: 2,
      attempts: 1,
    });
  });

  it('refuses a duplicate type, a handler without run, and bad defaults', () => {
    const table = new HandlerTable(1);
    table.add({ name: 'x' }, instance);
    expect(() => table.add({ name: 'x' }, instance)).toThrow(/registered twice/);
    expect(() => table.add({ name: 'y' }, {} as JobHandlerInstance)).toThrow(/no run/);
    expect(() => table.add({ name: 'z', attempts: 0 }, instance)).toThrow(/attempts/);
  });

  it('answers 400 naming the known types for an unknown type', () => {
    const table = new HandlerTable(1);
    table.add({ name: 'b' }, instance);
    table.add({ name: 'a' }, instance);
    const err = rejection(() => table.validate('nope', {}));
    expect(err.code).toBe('bad_request');
    expect(err.message).toBe('type "nope" is not a registered job type (known: a, b)');
  });

  it('validates a DTO payload, fills defaults and names the bad field', () => {
    const table = new HandlerTable(1);
    table.add({ name: 'p', payload: Payload }, instance);
    expect(table.validate('p', { n: 3 })).toEqual({ n: 3, extra: 7 });
    expect(rejection(() => table.validate('p', { n: 11 })).message).toMatch(/^payload\.n: /);
    expect(rejection(() => table.validate('p', { n: '3' })).message).toMatch(/^payload\.n: /);
    expect(rejection(() => table.validate('p', { n: 3, other: 1 })).message).toMatch(/payload\.other/);
    expect(rejection(() => table.validate('p', [1])).message).toBe('payload must be a JSON object');
  });

  it('accepts a validate function and prefixes its message', () => {
    const table = new HandlerTable(1);
    table.add(
      {
        name: 'f',
        payload: {
          validate: (input) => {
            if (typeof input !== 'string') throw new Error('must be a string');
            return input.toUpperCase();
          },
        },
      },
      instance,
    );
    expect(table.validate('f', 'abc')).toBe('ABC');
    expect(rejection(() => table.validate('f', 1)).message).toBe('payload: must be a string');
  });
});

describe('@JobHandler', () => {
  it('stores its options as metadata and refuses a bad name', () => {
    @JobHandler({ name: 'meta.test', attempts: 2 })
    class Meta {
      async run() {}
    }
    expect(Reflect.getMetadata(JOB_HANDLER, Meta)).toEqual({ name: 'meta.test', attempts: 2 });
    expect(() => JobHandler({ name: 'bad:name' })).toThrow(/must match/);
  });
});
