import { AppError } from '../infra/errors/app-error.js';

/** Channel names: 1..128 of letters, digits and `_ - . :`; the part before the first `:` is the namespace. */
export const CHANNEL_NAME = /^[A-Za-z0-9_\-.:]{1,128}$/;

export function isValidChannelName(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_NAME.test(name);
}

/** The one 400 every transport gives for a bad name. */
export function assertChannelName(name: unknown): asserts name is string {
  if (!isValidChannelName(name))
    throw new AppError('bad_request', `channel must match ${CHANNEL_NAME.source}`);
}

export function namespaceOf(channel: string): string | null {
  const i = channel.indexOf(':');
  return i === -1 ? null : channel.slice(0, i);
}
