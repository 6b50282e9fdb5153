import { isIP } from 'node:net';
import { clientRequestIdOf, requestIdOf } from '@aimable/auth-server-kit';
import type { Request, Response } from 'express';
import type { RequestOrigin } from '../request-origin.js';

/** The origin of the request being answered. */
export function requestOrigin(req: Request, res: Response): RequestOrigin {
  return { requestId: requestIdOf(res), clientRequestId: clientRequestIdOf(res), clientAddress: clientAddress(req) };
}

/**
 * The client's address, as the rate limits count it; undefined when it is
 * not an IP address (a trusted proxy passed on whatever the client put in
 * `X-Forwarded-For`).
 */
function clientAddress(req: Request): string | undefined {
  const address = req.ip ?? req.socket.remoteAddress;
  return address !== undefined && isIP(address) !== 0 ? address : undefined;
}
