/**
 * Postgres integrity violations (SQLSTATE class 23) as client errors naming
 * the field: whatever validation missed, the database's own constraints still
 * answer 409/400, never 500.
 */
export interface ConstraintViolation {
  status: 400 | 409;
  message: string;
}

interface PgError {
  code?: string;
  column?: string;
  constraint?: string;
  table?: string;
  detail?: string;
  driverError?: PgError;
}

/** `history_max_per_channel` → `historyMaxPerChannel`: API fields are the columns in camelCase. */
const field = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The columns of a `Key (a, b)=(…)` detail. */
const keyColumns = (detail?: string) =>
  /^Key \(([^)]+)\)=/
    .exec(detail ?? '')?.[1]
    .split(',')
    .map((c) => field(c.trim().replace(/"/g, '')));

export function constraintViolation(error: unknown): ConstraintViolation | undefined {
  const raw = error as PgError | undefined;
  const e = raw?.driverError ?? raw;
  if (!e || typeof e.code !== 'string' || !e.code.startsWith('23')) return undefined;
  const columns = keyColumns(e.detail)?.join(', ');
  switch (e.code) {
    case '23505':
      return { status: 409, message: `${columns ?? e.constraint} already exists` };
    case '23503':
      return /is still referenced/.test(e.detail ?? '')
        ? { status: 409, message: `still referenced from ${e.table ?? 'another table'} (${columns})` }
        : { status: 409, message: `${columns ?? e.constraint} refers to something that does not exist` };
    case '23502':
      return { status: 400, message: `${e.column ? field(e.column) : 'a field'} is required` };
    case '23514': {
      // By convention check constraints are named <table>_<column>_check.
      const column =
        e.table && e.constraint?.startsWith(`${e.table}_`) ? e.constraint.slice(e.table.length + 1) : '';
      const name = column.endsWith('_check') ? field(column.slice(0, -'_check'.length)) : e.constraint;
      return { status: 400, message: `${name} is out of range` };
    }
    default:
      return { status: 400, message: `invalid input (${e.constraint ?? e.code})` };
  }
}
