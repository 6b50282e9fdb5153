import { AsyncLocalStorage } from 'node:async_hooks';
import { isIP } from 'node:net';
import { requestIdOf } from '@aimable/auth-server-kit';
import type { Request, RequestHandler, Response } from 'express';

/** Who made the request being answered: what an audit event names besides its subject. */
export interface RequestContext {
  requestId: string;
  /** The client's address as Express reads it: through the proxies `AUTH_TRUST_PROXY` trusts. */
  clientAddress: string | undefined;
}

const current = new AsyncLocalStorage<{ req: Request; res: Response }>();

/**
 * Makes the request available to what runs on its behalf, however deep:
 * a security event raised inside a service names its request without
 * every service passing it along.
 */
export function requestContext(): RequestHandler {
  return (req, res, next) => current.run({ req, res }, next);
}

/** The request being answered, if code runs on behalf of one. */
export function currentRequest(): RequestContext | undefined {
  const store = current.getStore();
  if (!store) return undefined;
  // The request id is set by the router, after this context began: read it when asked.
  return { requestId: requestIdOf(store.res), clientAddress: clientAddress(store.req) };
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
