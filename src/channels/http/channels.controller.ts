import { Body, Controller, Get, HttpStatus, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ChannelAccess } from '../../auth/channel-access.js';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import type { Principal } from '../../auth/principal.js';
import { ApiErrors, IDEMPOTENT_REPLAYED } from '../../docs/openapi.js';
import { ChannelInfo, HistoryPage, Message, PollPage, PublishBody } from '../../docs/openapi-models.js';
import { ChannelsService, type Page } from '../channels.service.js';
import { type HistoryQuery, type PollQuery, historyQuery, pollQuery } from '../dto/channel-queries.dto.js';
import { parsePublishBody } from '../dto/parse-publish-body.js';
import { RateLimited } from '../../limits/rate-limited.decorator.js';
import { pageJson } from './page-json.js';

@ApiTags('channels')
@ApiParam({
  name: 'channel',
  example: 'chat:room-1',
  description: 'channel name, ^[A-Za-z0-9_\\-.:]{1,128}$',
})
@ApiErrors(400, 401, 403, 503)
@Controller('v1/channels')
export class ChannelsController {
  constructor(
    private readonly channels: ChannelsService,
    private readonly access: ChannelAccess,
  ) {}

  /** 201 with the new message; 200 with the original when the idempotencyKey was already used. */
  @ApiOperation({ summary: 'Publish a message (acknowledged once committed)' })
  @ApiBody({ type: PublishBody })
  @ApiResponse({ status: 201, description: 'published', type: Message })
  @ApiResponse({
    status: 200,
    description: 'idempotencyKey already used: the original message',
    type: Message,
    headers: IDEMPOTENT_REPLAYED,
  })
  @ApiErrors(413, 429)
  @Post(':channel/messages')
  @RateLimited('publish')
  async publish(
    @Param('channel') channel: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    this.access.assertCanPublish(principal, channel);
    const { data, idempotencyKey } = parsePublishBody(body);
    const { message, created } = await this.channels.publish(channel, data, { idempotencyKey });
    res.status(created ? HttpStatus.CREATED : HttpStatus.OK);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return message;
  }

  @ApiOperation({ summary: 'Read history after a seq, ascending' })
  @ApiQuery({ name: 'after', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  })
  @ApiOkResponse({ type: HistoryPage })
  @Get(':channel/messages')
  async history(
    @Param('channel') channel: string,
    @Query(historyQuery) q: HistoryQuery,
    @CurrentPrincipal() principal: Principal,
    @Res() res: Response,
  ) {
    await this.access.assertCanRead(principal, channel);
    const page = await this.channels.history(channel, q.after, q.limit);
    res.type('application/json').send(pageJson(page));
  }

  @ApiOperation({
    summary: 'Long poll: answers as soon as a message with seq > after exists, or with none at the timeout',
  })
  @ApiQuery({ name: 'after', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiQuery({
    name: 'timeout',
    required: false,
    description: 'seconds',
    schema: { type: 'integer', minimum: 0, maximum: 60, default: 25 },
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  })
  @ApiOkResponse({ type: PollPage })
  @Get(':channel/poll')
  async poll(
    @Param('channel') channel: string,
    @Query(pollQuery) q: PollQuery,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.access.assertCanRead(principal, channel);
    // HEAD cannot carry the answer, so it does not wait for one. A poll
    // answers what it has when the token expires: access ends with the token.
    const untilExpiry =
      principal.expiresAt === null ? Infinity : Math.max(0, principal.expiresAt - Date.now());
    const timeoutMs = req.method === 'HEAD' ? 0 : Math.min(q.timeout * 1000, untilExpiry);
    // The response's 'close' fires when the client goes away (the request's
    // does not, once its body is read), which frees the wait at once. The
    // handler returns as soon as the poll waits, so the request pipeline
    // (Nest's frames, this one) is not held for the whole wait; the answer
    // is sent from the callback.
    let gone = false;
    let leave: () => void = noop;
    res.on('close', () => {
      gone = !res.writableEnded;
      leave();
    });
    leave = await this.channels.poll(channel, q.after, timeoutMs, q.limit, (page) => sendPage(res, page));
    if (gone) leave(); // the client left while the poll was being set up
  }

  @ApiOperation({ summary: "The channel's last seq" })
  @ApiOkResponse({ type: ChannelInfo })
  @Get(':channel')
  async info(@Param('channel') channel: string, @CurrentPrincipal() principal: Principal) {
    await this.access.assertCanRead(principal, channel);
    return { channel, lastSeq: await this.channels.lastSeq(channel) };
  }
}

const noop = () => undefined;

/** The long poll's answer, unless the client has gone. */
function sendPage(res: Response, page: Page): void {
  if (res.writableEnded || res.destroyed) return;
  res.setHeader('Cache-Control', 'no-store');
  res.type('application/json').send(pageJson(page));
}
