import type { TenantConfig } from '../tenants/tenant.js';

/**
 * RFC 9700 §4.11.1 and §2.1: a frontend redirect URI MUST equal one of the
 * tenant's allowlisted URIs, string for string. No prefix match, no
 * wildcard, no normalisation: anything else is an open redirector.
 */
export function isAllowedRedirectUri(tenant: TenantConfig, candidate: string): boolean {
  return tenant.redirectUris.some((allowed) => allowed === candidate);
}

/** The same rule for where a provider sends the browser after signing out (RP-Initiated Logout 1.0 §3). */
export function isAllowedPostLogoutRedirectUri(tenant: TenantConfig, candidate: string): boolean {
  return tenant.postLogoutRedirectUris.some((allowed) => allowed === candidate);
}
