import cors from 'cors';
import type { RequestHandler } from 'express';
import type { TenantRegistry } from '../tenants/tenant-registry.js';

/**
 * CORS with credentials, per tenant. A request naming its tenant is allowed
 * only that tenant's origins; a preflight (which carries no header values)
 * or a request without a tenant header, any configured origin.
 */
export function tenantCors(tenants: TenantRegistry): RequestHandler {
  const anyTenantOrigin = tenants.allOrigins();
  return cors((req, callback) => {
    const origin = req.headers.origin;
    const tenantId = req.headers['x-tenant-id'];
    const allowed =
      typeof origin === 'string' &&
      (typeof tenantId === 'string' && req.method !== 'OPTIONS'
        ? (tenants.find(tenantId)?.corsOrigins.includes(origin) ?? false)
        : anyTenantOrigin.has(origin));
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
