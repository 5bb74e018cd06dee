import type { PipeTransform } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import { QUERY_INT } from './query-int.js';

/** One integer query field: its default and range, and the message for each way it can be wrong. */
export interface IntField<K extends string = string> {
  name: K;
  default: number;
  min: number;
  max: number;
  notInteger: string;
  belowMin: string;
  aboveMax: string;
}

/**
 * Reads a query made only of integer fields, for the routes every poller
 * hits (history, long poll): the same answers as the class-validator DTO
 * these replaced (`@ToInt @Min @Max @IsInt`, checked integer first, then
 * max, then min; unknown keys ignored; every wrong field named, in `fields`
 * order, joined by "; "), without class-transformer building an instance
 * and class-validator walking its metadata on every request.
 *
 * Use it on a parameter typed with an interface (`@Query(pipe) q: PollQuery`):
 * a class type would send the value through the global ValidationPipe first.
 */
export class IntQueryPipe<K extends string> implements PipeTransform<unknown, Record<K, number>> {
  constructor(private readonly fields: readonly IntField<K>[]) {}

  transform(query: unknown): Record<K, number> {
    const given = (query ?? {}) as Record<string, unknown>;
    const out = {} as Record<K, number>;
    let problems: string[] | undefined;
    for (const f of this.fields) {
      const raw = Object.hasOwn(given, f.name) ? given[f.name] : undefined;
      if (raw === undefined) {
        out[f.name] = f.default;
        continue;
      }
      const value = typeof raw === 'string' && QUERY_INT.test(raw) ? Number(raw) : NaN;
      const problem = !Number.isInteger(value)
        ? f.notInteger
        : value > f.max
          ? f.aboveMax
          : value < f.min
            ? f.belowMin
            : undefined;
      if (problem) (problems ??= []).push(problem);
      else out[f.name] = value;
    }
    if (problems) throw new AppError('bad_request', problems.join('; '));
    return out;
  }
}
