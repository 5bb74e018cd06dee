import { Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ChannelAccess } from '../../auth/channel-access.js';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import type { Principal } from '../../auth/principal.js';
import { ApiErrors, ApiLastEventId } from '../../docs/openapi.js';
import type { Counter, Registry } from 'prom-client';
import { AppError } from '../../infra/errors/app-error.js';
import { InjectMetrics } from '../../infra/metrics/metrics.js';
import { ConnectionsMetric } from '../../infra/metrics/connections.metric.js';
import { slowConsumersCounter } from '../slow-consumers.metric.js';
import { type AppConfig, InjectConfig } from '../../infra/config/app-config.js';
import { ChannelsService } from '../channels.service.js';
import { StreamQueryDto } from '../dto/channel-queries.dto.js';
import { catchUpLowWater, drained } from '../catch-up-pacing.js';

/**
 * Server-Sent Events: `id:` is the seq, so a reconnecting EventSource resumes
 * exactly with Last-Event-ID. A client that cannot keep up is disconnected
 * (and resumes) rather than buffered without bound.
 */
@ApiTags('channels')
@Controller('v1/channels')
export class ChannelStreamController {
  private readonly slowConsumers: Counter<'transport'>;
  private readonly connections: ConnectionsMetric;

  constructor(
    private readonly channels: ChannelsService,
    @InjectConfig() private readonly config: AppConfig,
    @InjectMetrics() registry: Registry,
    private readonly access: ChannelAccess,
  ) {
    this.slowConsumers = slowConsumersCounter(registry);
    this.connections = ConnectionsMetric.of(registry);
  }

  @ApiOperation({
    summary:
      'Server-Sent Events: `id:` is the seq, `event: message`, `data:` the message (AsyncAPI: docs/asyncapi.yaml)',
  })
  @ApiParam({ name: 'channel', example: 'chat:room-1' })
  @ApiQuery({
    name: 'after',
    required: false,
    description: 'without it (and Last-Event-ID) the stream starts live',
    schema: { type: 'integer', minimum: 0 },
  })
  @ApiLastEventId()
  @ApiOkResponse({
    description: 'an event stream',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'retry: 1000\n: subscribed lastSeq=42 truncated=false\n\nid: 43\nevent: message\ndata: {"channel":"chat:room-1","seq":43,"id":"5b0c…","data":{"text":"hi"},"publishedAt":"2026-11-26T05:44:49.252Z"}\n\n',
      },
    },
  })
  @ApiQuery({
    name: 'token',
    required: false,
    description:
      'the JWT, for clients that cannot set Authorization (EventSource); the stream ends at its `exp`',
    schema: { type: 'string' },
  })
  @ApiErrors(400, 401, 403, 503)
  @Get(':channel/stream')
  async stream(
    @Param('channel') channel: string,
    @Query() q: StreamQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.access.assertCanRead(principal, channel);
    // An empty header is what some clients send before any event was seen.
    const after = lastEventId?.trim() ? parseLastEventId(lastEventId) : q.after;
    if (req.method === 'HEAD') {
      // Express routes HEAD here too; a stream without a body would never end.
      await this.channels.lastSeq(channel); // validates the name
      res.status(200).type('text/event-stream').end();
      return;
    }
    // One place ends the stream. A slow or vanished reader is destroyed (its
    // buffer is dropped; it resumes with Last-Event-ID); at shutdown the
    // stream is ended politely. Either way nothing is written afterwards.
    let closed = false;
    const lowWater = catchUpLowWater(this.config.WS_MAX_BUFFERED_BYTES);
    const timers: { heartbeat?: NodeJS.Timeout; cancelExpiry?: () => void } = {};
    const stop = (how: 'end' | 'destroy') => {
      if (closed) return;
      closed = true;
      clearInterval(timers.heartbeat);
      timers.cancelExpiry?.();
      if (how === 'end') res.end();
      else res.destroy();
    };
    const dropSlow = () => {
      if (closed) return;
      this.slowConsumers.inc({ transport: 'sse' });
      stop('destroy');
    };
    // A write racing a client reset must not become an unhandled 'error'.
    res.on('error', () => undefined);
    // Registered before the subscribe's await: a client gone by then must
    // still release its subscription.
    let gone = false;
    let release = () => {
      gone = true;
    };
    res.on('close', () => release());
    const subscribed = await this.channels.subscribe(
      channel,
      {
        deliver: (envelope) => {
          if (closed) return;
          res.write(envelope.sseFrame());
          if (res.writableLength > this.config.WS_MAX_BUFFERED_BYTES) dropSlow();
        },
        overflow: () => dropSlow(),
        // Catch-up waits for the client to read, so a long replay is never
        // mistaken for a slow reader (live traffic is judged by the limit).
        writable: () => (closed || res.writableLength <= lowWater ? undefined : drained(res)),
      },
      after,
    );
    if (gone) {
      this.channels.unsubscribe(subscribed);
      return;
    }
    timers.heartbeat = setInterval(() => {
      if (!closed) res.write(': heartbeat\n\n');
    }, this.config.SSE_HEARTBEAT_MS);
    const removeDrain = this.channels.onShutdown(() => stop('end'));
    // Access ends with the token: the stream ends at `exp`, and the client
    // reconnects (Last-Event-ID) with a fresh token.
    if (principal.expiresAt !== null) {
      timers.cancelExpiry = at(principal.expiresAt, () => {
        if (closed) return;
        res.write(': token expired\n\n');
        stop('end');
      });
    }
    const untrack = this.connections.track('sse');
    release = () => {
      untrack();
      closed = true;
      clearInterval(timers.heartbeat);
      timers.cancelExpiry?.();
      removeDrain();
      this.channels.unsubscribe(subscribed);
    };
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    // Comments only: EventSource ignores them, and no parser meets an event type it does not expect.
    res.write(
      `retry: 1000\n: subscribed lastSeq=${subscribed.lastSeq} truncated=${subscribed.truncated}\n\n`,
    );
    await this.channels.start(subscribed);
  }
}

/** Runs `fn` at the time `when` (ms since the epoch), beyond setTimeout's 24.8-day range too; returns the canceller. */
function at(when: number, fn: () => void): () => void {
  const MAX_DELAY = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = Math.max(0, when - Date.now());
    timer = setTimeout(delay > MAX_DELAY ? arm : fn, Math.min(delay, MAX_DELAY));
  };
  arm();
  return () => clearTimeout(timer);
}

function parseLastEventId(value: string): number {
  const n = /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n))
    throw new AppError('bad_request', 'Last-Event-ID must be a non-negative integer');
  return n;
}
