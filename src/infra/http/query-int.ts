import { Transform } from 'class-transformer';

/**
 * Query integers are decimal digits (and a minus sign, to be reported as out
 * of range): Number() would also read "1e2", "0x10", " 1" and "" (as 0).
 */
export const QUERY_INT = /^-?\d{1,16}$/;

/** class-transformer's form of {@link QUERY_INT}: anything else becomes NaN and fails @IsInt. */
export const ToInt = () =>
  Transform(({ value }) => (typeof value === 'string' && QUERY_INT.test(value) ? Number(value) : NaN));
