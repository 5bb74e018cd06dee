import { Transform } from 'class-transformer';
import { IsOptional } from 'class-validator';

/**
 * The null rule for request bodies, one decorator per case so every DTO
 * reads the same:
 * - `@NullAsAbsent()`: an optional field that cannot be empty. `null` counts
 *   as leaving it out (default on create, unchanged on update), never as a
 *   value that reaches a NOT NULL column.
 * - `@Nullable()`: a field that may be empty. `null` stores "no value" (on
 *   update: clears it); leaving it out keeps the default / current value.
 */
export function NullAsAbsent(): PropertyDecorator {
  return (target, key) => {
    Transform(({ value }) => (value === null ? undefined : value))(target, key);
    IsOptional()(target, key);
  };
}

export function Nullable(): PropertyDecorator {
  return IsOptional();
}
