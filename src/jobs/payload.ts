import { instanceToPlain, plainToInstance } from 'class-transformer';
import { type ValidationError, validateSync } from 'class-validator';
import { AppError } from '../infra/errors/app-error.js';
import type { JobHandlerOptions, PayloadClass } from './job-handler.decorator.js';
import { droppedKey, nullsAsAbsent } from './payload-dto.js';

// When a value breaks several rules, report the most basic one ("must be an
// integer" before "must not be greater than"), whatever order the decorators
// were written in.
const FIRST = [
  'whitelistValidation',
  'isDefined',
  'isInt',
  'isNumber',
  'isString',
  'isBoolean',
  'isObject',
  'isArray',
  'isIn',
  'isEnum',
];

function mostBasic(constraints: Record<string, string>): string | undefined {
  const key = FIRST.find((k) => k in constraints) ?? Object.keys(constraints)[0];
  return key === undefined ? undefined : constraints[key];
}

/** The first problem of a class-validator result, as `payload.a.b: message`. */
function describe(errors: ValidationError[], path: string): string | null {
  for (const error of errors) {
    const here = `${path}.${error.property}`;
    const message = mostBasic(error.constraints ?? {});
    if (message) return `${here}: ${message}`;
    const nested = describe(error.children ?? [], here);
    if (nested) return nested;
  }
  return null;
}

function validateClass<P>(cls: PayloadClass<P>, input: unknown): P {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AppError('bad_request', 'payload must be a JSON object');
  }
  const instance = plainToInstance(cls, input) as object;
  const dropped = droppedKey(input, instance, 'payload');
  if (dropped) throw new AppError('bad_request', dropped);
  nullsAsAbsent(instance);
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: false,
  });
  const problem = describe(errors, 'payload');
  if (problem) throw new AppError('bad_request', problem);
  // Back to plain JSON: what is stored, and what the handler gets (with defaults filled in).
  return instanceToPlain(instance) as P;
}

/**
 * Checks `input` against a handler's payload rule and returns the payload to
 * store. Every rejection is an AppError('bad_request') whose message names
 * the field, whatever the validator threw.
 */
export function validatePayload<P>(options: JobHandlerOptions<P>, input: unknown): P {
  const rule = options.payload;
  if (!rule) return input as P;
  try {
    if (typeof rule === 'function') return validateClass(rule, input);
    return rule.validate(input);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const message = (err as Error)?.message || 'payload is invalid';
    throw new AppError('bad_request', message.startsWith('payload') ? message : `payload: ${message}`);
  }
}
