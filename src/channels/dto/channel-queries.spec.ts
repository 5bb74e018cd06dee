import 'reflect-metadata';
import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { IsInt, Max, Min } from 'class-validator';
import fc from 'fast-check';
import { AppError } from '../../infra/errors/app-error.js';
import { ToInt } from '../../infra/http/query-int.js';
import { historyQuery, pollQuery } from './channel-queries.dto.js';

// The class-validator DTOs the hand-written pipes replaced, kept here as the
// reference they must answer like (same values, same messages, same order).
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
class HistoryQueryDto {
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
class PollQueryDto extends HistoryQueryDto {
  @ToInt()
  @Min(0, { message: 'timeout must be between 0 and 60' })
  @Max(60, { message: 'timeout must be between 0 and 60' })
  @IsInt({ message: 'timeout must be an integer number of seconds' })
  timeout: number = 25;
}

const reference = new ValidationPipe({
  transform: true,
  whitelist: true,
  forbidUnknownValues: false,
  stopAtFirstError: true,
});

/** `{ok: value}` or `{error: message}` as the HTTP error body would carry it. */
async function viaReference(dto: typeof HistoryQueryDto, query: Record<string, string>) {
  try {
    return { ok: { ...(await reference.transform({ ...query }, { type: 'query', metatype: dto })) } };
  } catch (err) {
    const m = ((err as BadRequestException).getResponse() as { message: string[] }).message;
    return { error: m.join('; ') };
  }
}

function viaPipe(pipe: typeof historyQuery | typeof pollQuery, query: Record<string, string>) {
  try {
    return { ok: { ...pipe.transform(Object.assign(Object.create(null), query)) } };
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('bad_request');
    return { error: (err as AppError).message };
  }
}

const value = fc.oneof(
  fc.integer({ min: -5, max: 1100 }).map(String),
  fc.constantFrom('', ' 1', '1e2', '0x10', '1.5', '-0', 'abc', '9007199254740991', '9007199254740992'),
  fc.constantFrom('9999999999999999', '99999999999999999', '0001', '+1', '60', '61', '1000', '1001'),
  fc.string({ maxLength: 4 }),
);
const query = fc.record(
  { after: value, limit: value, timeout: value, _: value, other: value },
  { requiredKeys: [] },
);

describe('history and poll query pipes', () => {
  it('answer exactly as the class-validator DTOs did, for any mix of fields', async () => {
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        expect(viaPipe(historyQuery, q)).toEqual(await viaReference(HistoryQueryDto, q));
        expect(viaPipe(pollQuery, q)).toEqual(await viaReference(PollQueryDto, q));
      }),
      { numRuns: 2000 },
    );
  });

  it('name every wrong field, timeout first', () => {
    expect(() => pollQuery.transform({ after: 'x', limit: '0', timeout: '99' })).toThrow(
      'timeout must be between 0 and 60; after must be an integer; limit must be between 1 and 1000',
    );
  });

  it('fill the defaults', () => {
    expect(pollQuery.transform({})).toEqual({ after: 0, limit: 100, timeout: 25 });
    expect(historyQuery.transform(undefined)).toEqual({ after: 0, limit: 100 });
  });
});
