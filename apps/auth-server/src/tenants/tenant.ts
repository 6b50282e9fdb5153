/**
 * A tenant as the server runs it: its providers, where its logins may
 * return, which origins may call, its API keys and its session policy.
 * Built and validated from the tenants file by `config/`.
 */
export interface ProviderConfig {
  id: string;
  displayName: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  allowInsecureHttp: boolean;
}

export interface SessionPolicy {
  accessTokenTtlSeconds: number;
  absoluteLifetimeSeconds: number;
  idleTimeoutSeconds: number;
  refreshReuseGraceSeconds: number;
  cookieSameSite: 'Strict' | 'Lax' | 'None';
  /**
   * Whether `start` requires the frontend's S256 `code_challenge`, and
   * session creation the matching `code_verifier`. `optional` is weaker:
   * a `code` and `state` taken from a URL then make a session for whoever
   * redeems them first, and a planted pair signs a victim in as the attacker.
   */
  frontendPkce: 'required' | 'optional';
}

/** What an API key may do: `refresh` (`POST /v1/refresh`), `audit:read` (the tenant's audit log). */
export const API_KEY_SCOPES = ['refresh', 'audit:read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Keys that name no scopes keep what every key could do before scopes existed. */
export const DEFAULT_API_KEY_SCOPES: readonly ApiKeyScope[] = ['refresh'];

export interface ApiKeyConfig {
  id: string;
  /** SHA-256 of the key: the key itself is never configured or stored. */
  sha256: string;
  scopes: ApiKeyScope[];
}

export interface TenantConfig {
  id: string;
  /** In display order. */
  providers: ProviderConfig[];
  redirectUris: string[];
  /** Where a provider may send the browser after signing out (RP-Initiated Logout's `post_logout_redirect_uri`). */
  postLogoutRedirectUris: string[];
  corsOrigins: string[];
  apiKeyHashes: ApiKeyConfig[];
  sessionPolicy: SessionPolicy;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  accessTokenTtlSeconds: 15 * 60,
  absoluteLifetimeSeconds: 30 * 24 * 3600,
  idleTimeoutSeconds: 7 * 24 * 3600,
  refreshReuseGraceSeconds: 10,
  cookieSameSite: 'Strict',
  frontendPkce: 'required',
};
