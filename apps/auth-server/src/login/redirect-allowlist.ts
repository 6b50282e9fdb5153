import type { TenantConfig } from '../tenants/tenant.js';

/**
 * RFC 9700 §4.11.1 and §2.1: a frontend redirect URI MUST equal one of the
 * tenant's allowlisted URIs, string for string. No prefix match, no
 * wildcard, no normalisation: anything else is an open redirector.
 */
export function isAllowedRedirectUri(tenant: TenantConfig, candidate: string): boolean {
  return tenant.redirectUris.some((allowed) => allowed === candidate);
}
