import 'reflect-metadata';
import { Expose, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, ValidateNested } from 'class-validator';
import { AppError } from '../infra/errors/app-error.js';
import { validatePayload } from './payload.js';

class Inner {
  @IsInt()
  @Min(1)
  size!: number;

  @IsOptional()
  @IsString()
  label: string = 'inner';
}

class Outer {
  @IsInt()
  @Max(10)
  n!: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  steps: number = 10;

  @IsOptional()
  @IsString()
  note?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => Inner)
  inner?: Inner;

  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => Inner)
  items?: Inner[];
}

const validate = (input: unknown) => validatePayload({ name: 'p', payload: Outer }, input);

function rejection(input: unknown): string {
  try {
    validate(input);
  } catch (err) {
    if (err instanceof AppError && err.code === 'bad_request') return err.message;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('payload validation with a DTO class', () => {
  it('takes null in an optional field as absent: the default, or no key when there is none', () => {
    expect(validate({ n: 1, steps: null, note: null })).toEqual({ n: 1, steps: 10 });
    expect(validate({ n: 1, inner: { size: 2, label: null } })).toEqual({
      n: 1,
      steps: 10,
      inner: { size: 2, label: 'inner' },
    });
    expect(validate({ n: 1, items: [{ size: 1, label: null }] })).toEqual({
      n: 1,
      steps: 10,
      items: [{ size: 1, label: 'inner' }],
    });
  });

  it('still refuses null in a required field, and a wrong value in an optional one', () => {
    expect(rejection({ n: null })).toMatch(/^payload\.n: n must be an integer/);
    expect(rejection({ n: 1, inner: { size: null } })).toMatch(/^payload\.inner\.size: /);
    expect(rejection({ n: 1, steps: 0 })).toMatch(/^payload\.steps: /);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__', 'bogus'])(
    'refuses the unknown key %s like any other, naming it',
    (key) => {
      const input = JSON.parse(`{"n": 1, "${key}": 1}`) as unknown;
      expect(rejection(input)).toBe(`payload.${key}: property ${key} should not exist`);
    },
  );

  it('refuses inherited names in nested objects too', () => {
    expect(rejection(JSON.parse('{"n":1,"inner":{"size":1,"constructor":{}}}'))).toBe(
      'payload.inner.constructor: property constructor should not exist',
    );
    expect(rejection(JSON.parse('{"n":1,"items":[{"size":1},{"size":1,"__proto__":[]}]}'))).toBe(
      'payload.items.1.__proto__: property __proto__ should not exist',
    );
  });

  it('accepts keys class-transformer renames, and still refuses unknown ones', () => {
    class Renamed {
      @Expose({ name: 'user_id' })
      @IsInt()
      userId!: number;
    }
    const renamed = (input: unknown) => validatePayload({ name: 'r', payload: Renamed }, input);
    expect(renamed({ user_id: 7 })).toEqual({ user_id: 7 }); // stored as sent
    expect(() => renamed({ user_id: 7, other: 1 })).toThrow(/other/);
    expect(() => renamed({ user_id: 7, toString: 1 })).toThrow(/toString/);
  });
});
