import cors from 'cors';
import type { Request, RequestHandler } from 'express';
import { decodeJwt } from 'jose';
import type { TenantConfig } from '../tenants/tenant.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';

/**
 * CORS with credentials, per tenant. An answer is readable by an origin
 * only if every tenant the request speaks for allows it: the tenant of its
 * `X-Tenant-Id`, of its API key, and of its bearer token. The header alone
 * is chosen by the calling page, so the credentials decide too. A
 * preflight carries no header values: it is allowed for any configured
 * origin, and the actual request is judged again.
 */
export function tenantCors(tenants: TenantRegistry): RequestHandler {
  const anyTenantOrigin = tenants.allOrigins();
  return cors((req, callback) => {
    const origin = req.headers.origin;
    let allowed = false;
    if (typeof origin === 'string') {
      const implied = req.method === 'OPTIONS' ? [] : tenantsOf(req as Request, tenants);
      allowed = implied.length === 0 ? anyTenantOrigin.has(origin) : implied.every((tenant) => tenant?.corsOrigins.includes(origin));
    }
    callback(null, {
      origin: allowed ? origin : false,
      credentials: true,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-API-Key', 'X-Request-Id', 'X-Tenant-Id'],
      exposedHeaders: ['X-Request-Id', 'Idempotent-Replayed', 'Retry-After'],
      maxAge: 600,
    });
  });
}

/** The tenants a request speaks for; `undefined` stands for a named tenant that does not exist. */
function tenantsOf(req: Request, tenants: TenantRegistry): (TenantConfig | undefined)[] {
  const implied: (TenantConfig | undefined)[] = [];
  const tenantId = req.get('x-tenant-id');
  if (tenantId !== undefined) implied.push(tenants.find(tenantId));
  const apiKey = req.get('x-api-key');
  if (apiKey !== undefined) implied.push(tenants.tenantForApiKey(apiKey));
  const bearer = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (bearer !== undefined) {
    // Unverified on purpose: it only narrows who may read the answer; the handler verifies the token.
    let claimed: unknown;
    try {
      claimed = decodeJwt(bearer).tenant;
    } catch {
      claimed = undefined;
    }
    implied.push(typeof claimed === 'string' ? tenants.find(claimed) : undefined);
  }
  return implied;
}
