import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { ToInt } from '../../infra/http/query-int.js';
import { JOB_STATES, type JobState } from '../job-state.js';

/** `GET /v1/jobs?state=&type=&limit=&cursor=` */
export class ListJobsQuery {
  @IsOptional()
  @IsIn(JOB_STATES, { message: `state must be one of ${JOB_STATES.join(', ')}` })
  state?: JobState;

  @IsOptional()
  @IsString({ message: 'type must be a string' })
  @MaxLength(64, { message: 'type must be at most 64 characters' })
  @Matches(/^[\x21-\x7e]+$/, { message: 'type must be printable ASCII' })
  type?: string;

  @ToInt()
  @Min(1, { message: 'limit must be between 1 and 100' })
  @Max(100, { message: 'limit must be between 1 and 100' })
  @IsInt({ message: 'limit must be an integer' })
  limit: number = 20;

  @IsOptional()
  @IsString({ message: 'cursor must be a string' })
  cursor?: string;
}
