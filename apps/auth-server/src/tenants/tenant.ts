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

/** How a client may authenticate at a token endpoint (OAuth 2.0 Dynamic Client Registration §2), of those the server speaks. */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** What the server may authenticate with at a provider's token endpoint; the method is settled against the provider's discovery (`oidc/client-auth.ts`). */
export interface ClientAuthConfig {
  /** The configured method; without one, the server chooses among those the provider lists. */
  method?: TokenEndpointAuthMethod;
  /** The key that signs `private_key_jwt` assertions (RFC 7523): RSA (RS256) or P-256 (ES256). */
  privateKey?: KeyObject;
  /** The `kid` of the assertions' header. */
  keyId?: string;
  /** The assertions' `aud`: the issuer identifier (RFC 7523bis), unless the provider wants its token endpoint URL. */
  assertionAudience: 'issuer' | 'token_endpoint';
  /** Where the provider is configured, `tenants[0].providers.google`: a disagreement with its discovery is found only then, and must point here. */
  configPath: string;
}

/** Any OpenID Connect provider, found by discovery at its issuer. */
export interface OidcProviderConfig extends ProviderBase {
  type: 'oidc';
  issuer: string;
  /** Empty where the configured method needs none (`private_key_jwt`, `none`). */
  clientSecret: string;
  clientAuth: ClientAuthConfig;
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
  /** Empty where the configured method needs none (`private_key_jwt`). */
  clientSecret: string;
  clientAuth: ClientAuthConfig;
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
