import type { Principal } from '../auth/principal.js';

/**
 * Whom a limit counts: the token's `sub` when there is one, else the client
 * address (open mode, where `sub` is null). Every limit and transport derives
 * its key here, so a client gets the same budget over REST and WebSocket.
 */
export function clientKeyOf(principal: Pick<Principal, 'sub'> | null | undefined, ip: string): string {
  return principal?.sub != null ? `sub:${principal.sub}` : `ip:${ip}`;
}
