import { MAX_TOKEN_CHARS } from '../../auth/request-token.js';
import { AppError } from '../../infra/errors/app-error.js';
import { assertChannelName } from '../channel-name.js';
import { parsePublishBody, type PublishBody } from '../dto/parse-publish-body.js';

function channelOf(data: Record<string, unknown>): string {
  if (typeof data.channel !== 'string' || data.channel.length === 0) {
    throw new AppError('bad_request', 'channel is required');
  }
  return data.channel;
}

export function parseSubscribe(data: Record<string, unknown>): { channel: string; after?: number } {
  const channel = channelOf(data);
  const { after } = data;
  if (after !== undefined && !(typeof after === 'number' && Number.isSafeInteger(after) && after >= 0)) {
    throw new AppError('bad_request', 'after must be an integer >= 0');
  }
  return { channel, after: after as number | undefined };
}

export function parseUnsubscribe(data: Record<string, unknown>): { channel: string } {
  const channel = channelOf(data);
  assertChannelName(channel);
  return { channel };
}

export function parsePublish(data: Record<string, unknown>): PublishBody & { channel: string } {
  return { channel: channelOf(data), ...parsePublishBody(data) };
}

export function parseRefresh(data: Record<string, unknown>): { token: string } {
  const { token } = data;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) {
    throw new AppError(
      'bad_request',
      `token must be a non-empty string of at most ${MAX_TOKEN_CHARS} characters`,
    );
  }
  return { token };
}
