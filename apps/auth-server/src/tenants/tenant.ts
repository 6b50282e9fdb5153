import type { KeyObject } from 'node:crypto';

/**
 * A tenant as the server runs it: its providers, where its logins may
 * return, which origins may call, its API keys and its session policy.
 * Built and validated from the tenants file by `config/`.
 */
/** How the server speaks to a provider: see each config below. */
export const PROVIDER_TYPES = ['oidc', 'github', 'apple', 'microsoft'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/** What every provider has, whatever its type. */
interface ProviderBase {
  id: string;
  displayName: string;
  clientId: string;
  scopes: string[];
  /** Allows `http://` endpoints. Only for local development providers. */
  allowInsecureHttp: boolean;
}

/** Any OpenID Connect provider, found by discovery at its issuer. */
export interface OidcProviderConfig extends ProviderBase {
  type: 'oidc';
  issuer: string;
  clientSecret: string;
}

/** GitHub (or GitHub Enterprise Server): OAuth 2.0 without OpenID Connect; the identity comes from its API. */
export interface GithubProviderConfig extends ProviderBase {
  type: 'github';
  clientSecret: string;
  /** Where the authorization and token endpoints are: `https://github.com`. */
  baseUrl: string;
  /** Where `/user` and `/user/emails` are: `https://api.github.com`. */
  apiUrl: string;
}

/** Sign in with Apple: the client secret is a JWT the server signs with the team's key. */
export interface AppleProviderConfig extends ProviderBase {
  type: 'apple';
  /** `https://appleid.apple.com`. */
  issuer: string;
  teamId: string;
  keyId: string;
  /** The team's ES256 key (P-256), from its PKCS #8 PEM. */
  privateKey: KeyObject;
}

/** Microsoft Entra ID, for one directory or many. */
export interface MicrosoftProviderConfig extends ProviderBase {
  type: 'microsoft';
  clientSecret: string;
  /** `common`, `organizations`, `consumers` or a directory (tenant) id. */
  directory: string;
  /** The directory ids (`tid`) whose users may sign in; empty: any. */
  allowedDirectories: string[];
  /** `https://login.microsoftonline.com`. */
  authority: string;
}

export type ProviderConfig = OidcProviderConfig | GithubProviderConfig | AppleProviderConfig | MicrosoftProviderConfig;

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
