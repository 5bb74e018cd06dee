import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { type IntField, IntQueryPipe } from '../../infra/http/int-query.pipe.js';
import { ToInt } from '../../infra/http/query-int.js';

const MAX_SEQ = Number.MAX_SAFE_INTEGER;

const AFTER: IntField<'after'> = {
  name: 'after',
  default: 0,
  min: 0,
  max: MAX_SEQ,
  notInteger: 'after must be an integer',
  belowMin: 'after must be >= 0',
  aboveMax: `after must be at most ${MAX_SEQ}`,
};

const LIMIT: IntField<'limit'> = {
  name: 'limit',
  default: 100,
  min: 1,
  max: 1000,
  notInteger: 'limit must be an integer',
  belowMin: 'limit must be between 1 and 1000',
  aboveMax: 'limit must be between 1 and 1000',
};

const TIMEOUT: IntField<'timeout'> = {
  name: 'timeout',
  default: 25,
  min: 0,
  max: 60,
  notInteger: 'timeout must be an integer number of seconds',
  belowMin: 'timeout must be between 0 and 60',
  aboveMax: 'timeout must be between 0 and 60',
};

/** `?after=&limit=` for history. */
export interface HistoryQuery {
  after: number;
  limit: number;
}

/** `?after=&timeout=&limit=` for long polls; timeout in seconds. */
export interface PollQuery extends HistoryQuery {
  timeout: number;
}

// Wrong fields are named in the order the class-validator DTOs these replaced did.
export const historyQuery = new IntQueryPipe([AFTER, LIMIT]);
export const pollQuery = new IntQueryPipe([TIMEOUT, AFTER, LIMIT]);

// class-validator runs decorators bottom-up: @IsInt sits last so "abc" is
// reported as not an integer rather than as out of range.

/** `?after=` for SSE; without it (and without Last-Event-ID) the stream starts live. */
export class StreamQueryDto {
  @IsOptional()
  @ToInt()
  @Min(0, { message: AFTER.belowMin })
  @Max(MAX_SEQ, { message: AFTER.aboveMax })
  @IsInt({ message: AFTER.notInteger })
  after?: number;
}
