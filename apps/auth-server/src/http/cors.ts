import type { RequestHandler } from 'express';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { Callers } from './caller.js';


/**
 * CORS with credentials, per tenant, and the origin check that goes with
 * it. An origin may read an answer only if every tenant the request speaks
 * for allows it (the tenant it names, its API key's, its access token's).
 *
 * CORS only hides an answer; the action still happens. So an unsafe
 * request from an origin that is not allowed is refused with 403 before
 * anything runs: a page of one tenant cannot make a browser act for
 * another (plant a session, refresh, log out). A preflight carries no
 * credentials: it is allowed for any tenant's origin, and the request that
 * follows is judged on its own.
 */
export function tenantCors(tenants: TenantRegistry, callers: Callers): RequestHandler {
  const anyTenantOrigin = tenants.allOrigins();
  const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
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
    } else if (unsafeMethods.has(req.method)) {
      // Express 5 answers what an async middleware throws through the router's problem writer.
      caller.assertOriginAllowedBy(spokenFor);
    }
    next();
  };
}
