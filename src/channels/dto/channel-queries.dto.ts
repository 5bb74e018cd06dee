import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ToInt } from '../../infra/http/query-int.js';

// class-validator runs decorators bottom-up: @IsInt sits last so "abc" is
// reported as not an integer rather than as out of range.

const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** `?after=&limit=` for history. */
export class HistoryQueryDto {
  @ToInt()
  @Min(0, { message: 'after must be >= 0' })
  @Max(MAX_SEQ, { message: `after must be at most ${MAX_SEQ}` })
  @IsInt({ message: 'after must be an integer' })
  after: number = 0;

  @ToInt()
  @Min(1, { message: 'limit must be between 1 and 1000' })
  @Max(1000, { message: 'limit must be between 1 and 1000' })
  @IsInt({ message: 'limit must be an integer' })
  limit: number = 100;
}

/** `?after=&timeout=&limit=` for long polls; timeout in seconds. */
export class PollQueryDto extends HistoryQueryDto {
  @ToInt()
  @Min(0, { message: 'timeout must be between 0 and 60' })
  @Max(60, { message: 'timeout must be between 0 and 60' })
  @IsInt({ message: 'timeout must be an integer number of seconds' })
  timeout: number = 25;
}

/** `?after=` for SSE; without it (and without Last-Event-ID) the stream starts live. */
export class StreamQueryDto {
  @IsOptional()
  @ToInt()
  @Min(0, { message: 'after must be >= 0' })
  @Max(MAX_SEQ, { message: `after must be at most ${MAX_SEQ}` })
  @IsInt({ message: 'after must be an integer' })
  after?: number;
}
