import { AppError } from '../errors/app-error.js';
import { MAX_JSON_DEPTH, checkJsonValue } from './json-limits.js';

const nest = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe('checkJsonValue', () => {
  it('accepts ordinary JSON up to the depth limit', () => {
    expect(() => checkJsonValue({ a: [1, 'x', null, { b: true }] }, 'data')).not.toThrow();
    expect(() => checkJsonValue(nest(MAX_JSON_DEPTH), 'data')).not.toThrow();
  });

  it('refuses deeper nesting, naming the field, without overflowing the stack', () => {
    expect(() => checkJsonValue(nest(MAX_JSON_DEPTH + 1), 'data')).toThrow(/data is nested deeper than 64/);
    expect(() => checkJsonValue(nest(100_000), 'payload')).toThrow(AppError);
  });

  it('refuses numbers JSON cannot represent', () => {
    expect(() => checkJsonValue({ n: Infinity }, 'data')).toThrow(
      /data contains a number JSON cannot represent/,
    );
    expect(() => checkJsonValue([NaN], 'data')).toThrow(AppError);
  });
});
