import type { Request, RequestHandler, Response } from 'express';
import type { DefaultPrincipals, Principals, SecuritySchemeName } from '../gen/handlers.gen.js';
import { mountContract } from './create-router.js';
import type { ApiRouterOptions } from './options.js';
import { operationWithId, type RoutedOperation } from './routes.js';
import { credentialsAsSent, defaultChallenges, resolveSecurity, type SecurityResolvers } from './security.js';

export interface RequestGateOptions<P extends Principals = DefaultPrincipals> {
  /** The security step, as for the router: a refusal thrown here is answered as the scheme's problem. Default: credentials as sent. */
  security?: SecurityResolvers<P>;
  /** Each scheme's `WWW-Authenticate` challenge, as for the router. */
  challenges?: Partial<Record<SecuritySchemeName, string>>;
  /** Middleware that runs first (CORS, for example), as for the router. */
  before?: RequestHandler[];
  /** Largest accepted body; larger ones answer 413. Default: `16kb`. */
  bodyLimit?: string;
}

const rawBodies = new WeakMap<Request, Buffer>();

/**
 * The router without handlers: what the server refuses before an operation
 * runs (a path or method outside the contract, an unreadable or oversized
 * body, a request the contract's validator refuses, a missing or refused
 * credential) is refused with the same status, code, title and headers, by
 * the same problem writer; a request that passes goes on to `next`, with
 * its operation (`gatedOperationOf`) and the body as it was read
 * (`gatedBodyOf`). For a stand-in of the server, such as a mock, that must
 * refuse what the server refuses.
 */
export function createRequestGate<P extends Principals = DefaultPrincipals>(options: RequestGateOptions<P> = {}): RequestHandler {
  const resolvers = (options.security ?? credentialsAsSent) as SecurityResolvers<Principals>;
  const challenges = { ...defaultChallenges(), ...options.challenges };
  const routerOptions: ApiRouterOptions<Principals> = { before: options.before, bodyLimit: options.bodyLimit };
  return mountContract(routerOptions, undefined, (req, body) => rawBodies.set(req, body), (operation) => async (req, res, next) => {
    res.locals.security = await resolveSecurity(operation, resolvers, challenges, req, res);
    next();
  });
}

/** The operation of a request the gate let through. */
export function gatedOperationOf(res: Response): RoutedOperation | undefined {
  return operationWithId(res.locals.operationId as string | undefined);
}

/** The body of a request the gate let through, as read (decoded); undefined when the operation takes none or none was sent. */
export function gatedBodyOf(req: Request): Buffer | undefined {
  return rawBodies.get(req);
}
