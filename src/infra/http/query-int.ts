import { Transform } from 'class-transformer';

/**
 * Query integers are decimal digits (and a minus sign, to be reported as out
 * of range): Number() would also read "1e2", "0x10", " 1" and "" (as 0).
 * Anything else becomes NaN and fails @IsInt.
 */
export const ToInt = () =>
  Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : NaN));
