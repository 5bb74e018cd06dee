import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// Documentation-only shapes for /docs/openapi.json. The handlers return plain
// objects (and several parse their bodies by hand), so these classes describe
// the wire format without taking part in validation.

const EXAMPLE_TIME = '2026-11-26T05:44:49.252Z';
const EXAMPLE_UUID = '0d6c6f0e-8a43-4bb8-9f0b-0a7d3a1c2f11';

/** `{statusCode, error, message}`: the shape of every HTTP error. */
export class ErrorBody {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ description: 'HTTP reason phrase', example: 'Bad Request' })
  error!: string;

  @ApiProperty({ example: 'limit must be between 1 and 1000' })
  message!: string;
}

/** Any JSON value: `data` of a message, a job's payload or result. */
const ANY_JSON = { description: 'any JSON value', nullable: true } as const;

export class Message {
  @ApiProperty({ example: 'chat:room-1', pattern: '^[A-Za-z0-9_\\-.:]{1,128}$' })
  channel!: string;

  @ApiProperty({ example: 42, minimum: 1, description: 'per-channel sequence number, from 1, no gaps' })
  seq!: number;

  @ApiProperty({ format: 'uuid', example: EXAMPLE_UUID })
  id!: string;

  @ApiProperty({ ...ANY_JSON, example: { text: 'hello' } })
  data!: unknown;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_TIME, description: 'commit time (Postgres clock)' })
  publishedAt!: string;
}

export class PublishBody {
  @ApiProperty({
    ...ANY_JSON,
    example: { text: 'hello' },
    description: 'any JSON value, at most MAX_MESSAGE_BYTES serialised, nested at most 64 levels',
  })
  data!: unknown;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    pattern: '^[\\x21-\\x7e]{1,128}$',
    example: 'client-msg-7',
    description: 'unique per channel; a repeat answers 200 with the original message',
  })
  idempotencyKey?: string | null;
}

export class HistoryPage {
  @ApiProperty({ type: [Message] })
  messages!: Message[];

  @ApiProperty({ example: 42, description: 'the value to pass as `after` next' })
  lastSeq!: number;

  @ApiProperty({ example: false, description: 'another page is already available' })
  hasMore!: boolean;

  @ApiPropertyOptional({
    example: true,
    description: 'present (true) only when retention removed messages after `after`',
  })
  truncated?: boolean;
}

export class PollPage {
  @ApiProperty({ type: [Message] })
  messages!: Message[];

  @ApiProperty({ example: 43, description: 'the value to pass as `after` next' })
  lastSeq!: number;

  @ApiPropertyOptional({
    example: true,
    description: 'present (true) only when retention removed messages after `after`',
  })
  truncated?: boolean;
}

export class ChannelInfo {
  @ApiProperty({ example: 'chat:room-1' })
  channel!: string;

  @ApiProperty({ example: 42, description: '0 for a channel never written' })
  lastSeq!: number;
}

const JOB_STATES = ['queued', 'active', 'completed', 'failed', 'cancelled'];

export class Job {
  @ApiProperty({ format: 'uuid', example: '0b9f1f0e-8f6a-4f0e-9a43-0c1d2e3f4a5b' })
  id!: string;

  @ApiProperty({ example: 'demo.sleep' })
  type!: string;

  @ApiProperty({ enum: JOB_STATES, example: 'active' })
  state!: string;

  @ApiProperty({ minimum: 0, maximum: 100, example: 40 })
  progress!: number;

  @ApiProperty({ ...ANY_JSON, example: { ms: 5000, steps: 10 } })
  payload!: unknown;

  @ApiProperty({ ...ANY_JSON, example: null, description: "the handler's return value once completed" })
  result!: unknown;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: "the last failed attempt's message",
  })
  error!: string | null;

  @ApiProperty({ example: 1 })
  attempts!: number;

  @ApiProperty({ example: 3 })
  maxAttempts!: number;

  @ApiProperty({ example: 0 })
  priority!: number;

  @ApiProperty({ example: 0 })
  delayMs!: number;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'unique per owner' })
  idempotencyKey!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'alice',
    description: 'the token `sub` that submitted the job (only it and admins see the job); null in open mode',
  })
  owner!: string | null;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_TIME })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: EXAMPLE_TIME })
  startedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  finishedAt!: string | null;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_TIME })
  updatedAt!: string;
}

export class SubmitJobBody {
  @ApiProperty({ example: 'demo.sleep', description: 'a registered job type (GET /v1/jobs/types)' })
  type!: string;

  @ApiPropertyOptional({
    ...ANY_JSON,
    example: { ms: 3000, steps: 3 },
    description: "checked by the type's handler; default {}",
  })
  payload?: unknown;

  @ApiPropertyOptional({ pattern: '^[\\x21-\\x7e]{1,128}$', example: 'order-77-invoice' })
  idempotencyKey?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 31536000000, example: 0 })
  delayMs?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 2097151, example: 0 })
  priority?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, example: 3 })
  attempts?: number;
}

export class JobList {
  @ApiProperty({ type: [Job] })
  jobs!: Job[];

  @ApiProperty({ type: String, nullable: true, description: 'pass back as `cursor`; null on the last page' })
  nextCursor!: string | null;
}

export class JobType {
  @ApiProperty({ example: 'demo.sleep' })
  name!: string;

  @ApiProperty({ example: 3 })
  attempts!: number;

  @ApiProperty({ example: 10 })
  concurrency!: number;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { type: 'exponential', delay: 1000 } })
  backoff!: unknown;

  @ApiProperty({ type: Number, nullable: true, example: null })
  timeoutMs!: number | null;
}

export class JobTypes {
  @ApiProperty({ type: [JobType] })
  types!: JobType[];
}

export class NamespaceSettings {
  @ApiPropertyOptional({ example: true, description: 'whether clients may publish in the namespace' })
  clientPublish?: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 0,
    maximum: 1_000_000_000,
    example: 1000,
    description: 'null: the instance default (HISTORY_MAX_PER_CHANNEL)',
  })
  historyMaxPerChannel?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 0,
    maximum: 10 * 365 * 24 * 3600,
    example: 86400,
    description: 'null: the instance default (HISTORY_TTL_SECONDS)',
  })
  historyTtlSeconds?: number | null;
}

export class CreateNamespace extends NamespaceSettings {
  @ApiProperty({ pattern: '^[A-Za-z0-9_\\-.]{1,64}$', example: 'chat' })
  name!: string;
}

export class Namespace {
  @ApiProperty({ format: 'uuid', example: EXAMPLE_UUID })
  id!: string;

  @ApiProperty({ example: 'chat' })
  name!: string;

  @ApiProperty({ example: true })
  clientPublish!: boolean;

  @ApiProperty({ type: Number, nullable: true, example: 1000 })
  historyMaxPerChannel!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: null })
  historyTtlSeconds!: number | null;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_TIME })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_TIME })
  updatedAt!: string;
}

export class NamespaceList {
  @ApiProperty({ type: [Namespace] })
  namespaces!: Namespace[];
}
