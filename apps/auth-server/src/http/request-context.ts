import { isIP } from 'node:net';
import { clientRequestIdOf, requestIdOf } from '@aimable/auth-server-kit';
import type { Request, Response } from 'express';

/**
 * Who made the request an event happened in: what an audit event names
 * besides its subject. Handlers pass it to the services that raise events.
 */
export interface RequestOrigin {
  /** The id the server gave the request. */
  requestId: string;
  /** The caller's own `X-Request-Id`, if it sent one: kept as the client's, never as the request's id. */
  clientRequestId?: string | undefined;
  /** The client's address as Express reads it: through the proxies `AUTH_TRUST_PROXY` trusts. */
  clientAddress: string | undefined;
}

/** The origin of the request being answered. */
export function requestOrigin(req: Request, res: Response): RequestOrigin {
  return { requestId: requestIdOf(res), clientRequestId: clientRequestIdOf(res), clientAddress: clientAddress(req) };
}

/**
 * The client's address, as the rate limits count it; undefined when it is
 * not an IP address (a trusted proxy passed on whatever the client put in
 * `X-Forwarded-For`).
 */
export function clientAddress(req: Request): string | undefined {
  const address = req.ip ?? req.socket.remoteAddress;
  return address !== undefined && isIP(address) !== 0 ? address : undefined;
}
