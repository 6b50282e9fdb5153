import { operations } from '@aimable/auth-server-kit';
import type { RequestHandler } from 'express';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { Callers } from './caller.js';


/**
 * CORS with credentials, per tenant. An origin may read an answer only if
 * every tenant the request speaks for allows it (the tenant it names, its
 * API key's, its access token's). A preflight carries no credentials: it
 * is allowed for any tenant's origin, and the request that follows is
 * judged on its own.
 */
export function tenantCors(tenants: TenantRegistry, callers: Callers): RequestHandler {
  const anyTenantOrigin = tenants.allOrigins();
  const allowedHeaders = 'Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id, X-Tenant-Id';
  const exposedHeaders = 'X-Request-Id, Idempotent-Replayed, Retry-After, WWW-Authenticate';
  return async (req, res, next) => {
    res.vary('Origin');
    const origin = req.get('origin');
    if (req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined) {
      res.vary('Access-Control-Request-Method').vary('Access-Control-Request-Headers');
      if (origin !== undefined && anyTenantOrigin.has(origin)) {
        res.set({
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Allow-Credentials': 'true',
          'Access-Control-Allow-Methods': 'GET, POST, DELETE',
          'Access-Control-Allow-Headers': allowedHeaders,
          'Access-Control-Max-Age': '600',
        });
      }
      res.status(204).end();
      return;
    }
    if (origin === undefined) {
      next();
      return;
    }
    const caller = callers.of(req);
    const spokenFor = await caller.tenantsSpokenFor();
    if (caller.originAllowedBy(spokenFor)) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': exposedHeaders });
    }
    next();
  };
}

/**
 * CORS only hides an answer; the action still happens. So an unsafe
 * request from an origin that is not allowed is refused with 403 before
 * anything runs: a page of one tenant cannot make a browser act for
 * another (plant a session, refresh, log out).
 */
export function originCheck(callers: Callers): RequestHandler {
  return async (req, _res, next) => {
    const caller = callers.of(req);
    // Stryker disable next-line ConditionalExpression: without an Origin the check passes anyway; the condition spares the tenants' lookup
    if (caller.origin !== undefined) caller.assertOriginAllowedBy(await caller.tenantsSpokenFor());
    next();
  };
}

/**
 * Posted by a provider, not by a tenant's page: the form post callback
 * comes from the provider's page (its origin, or `null`), carries no
 * credentials, and is bound to its login by `state` alone, as the GET
 * callback is; a back-channel logout is posted server to server, and the
 * signed logout token it carries is its only credential, which no browser
 * holds for another site.
 */
const PROVIDER_POSTED: ReadonlySet<string> = new Set(['receiveOidcFormPost', 'backchannelLogout']);

/** The operations that change something: those an origin check guards. */
export const UNSAFE_OPERATIONS: ReadonlySet<string> = new Set(
  operations.filter((operation) => operation.method !== 'get' && !PROVIDER_POSTED.has(operation.operationId)).map((operation) => operation.operationId),
);
