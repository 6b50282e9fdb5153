import type { RawTenantsFile } from '../../src/config/tenants.js';
import { sha256Hex } from '../../src/ids.js';
import { DEFAULT_SESSION_POLICY, type TenantConfig } from '../../src/tenants/tenant.js';

export const API_KEY = 'ak_test_alpha_4c1f9e';
export const OTHER_API_KEY = 'ak_test_beta_7a2d0b';
/** Alpha's operator key: it may read the audit log, and may not refresh. */
export const ADMIN_API_KEY = 'ak_test_alpha_admin_5e8b21';
export const REDIRECT_URI = 'http://localhost:5173/auth/callback';
/** Alpha's post-logout URI by default: the origin of its redirect URI, with the path `/`. */
export const POST_LOGOUT_REDIRECT_URI = 'http://localhost:5173/';
export const OTHER_REDIRECT_URI = 'https://beta.example.com/auth/callback';
/** The origins of alpha's and beta's pages: those of their redirect URIs. */
export const ALPHA_ORIGIN = new URL(REDIRECT_URI).origin;
export const BETA_ORIGIN = new URL(OTHER_REDIRECT_URI).origin;
export const CLIENT_SECRET = 'test-client-secret';

type RawTenant = RawTenantsFile['tenants'][number];

/** What a test changes in either tenant; each field given replaces that tenant's own. */
export interface TenantChanges {
  alpha?: Partial<RawTenant>;
  beta?: Partial<RawTenant>;
}

/** Two tenants on one local identity provider: `alpha` (provider `dev`) and `beta` (providers `dev` and `other`). */
export function twoTenants(issuer: string, changes: TenantChanges = {}): RawTenantsFile {
  const provider = { display_name: 'Local', issuer, client_id: 'aimable-test', client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true };
  return {
    tenants: [
      {
        id: 'alpha',
        providers: { dev: provider },
        redirect_uris: [REDIRECT_URI],
        api_keys: [{ id: 'k1', sha256: sha256Hex(API_KEY) }, { id: 'admin', sha256: sha256Hex(ADMIN_API_KEY), scopes: ['audit:read'] }],
        ...changes.alpha,
      },
      {
        id: 'beta',
        providers: { dev: provider, other: { ...provider, display_name: 'Other' } },
        redirect_uris: [OTHER_REDIRECT_URI],
        api_keys: [{ id: 'k1', sha256: sha256Hex(OTHER_API_KEY) }],
        ...changes.beta,
      },
    ],
  };
}

/** The two tenants with these changes, for `startHarness({ tenants })`. */
export function tenantsWith(changes: TenantChanges): (issuer: string) => RawTenantsFile {
  return (issuer) => twoTenants(issuer, changes);
}

/** Alpha lets a login start without the frontend's `code_challenge`. */
export const pkceOptional = tenantsWith({ alpha: { session_policy: { frontend_pkce: 'optional' } } });

/** A tenant as the server holds it once its file is parsed, for unit tests: no providers, keys or URIs unless given. */
export function tenantConfig(tenant: Partial<TenantConfig> & Pick<TenantConfig, 'id'>): TenantConfig {
  return { providers: [], redirectUris: [], postLogoutRedirectUris: [], corsOrigins: [], apiKeyHashes: [], sessionPolicy: DEFAULT_SESSION_POLICY, ...tenant };
}
