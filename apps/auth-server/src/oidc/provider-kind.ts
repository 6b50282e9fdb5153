import type { createRemoteJWKSet } from 'jose';
import type * as oidc from 'openid-client';
import type { ProviderConfig, ProviderType, TokenEndpointAuthMethod } from '../tenants/tenant.js';

/** What a successful code exchange yields: the provider's word on who signed in. */
export interface ProviderIdentity {
  /** Who vouches for the subject: the ID token's `iss`, or the provider's base URL where there is no ID token. */
  issuer: string;
  subject: string;
  email: string | null;
  /** True only when the provider itself says the address is verified. */
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
  /** The ID token itself: the `id_token_hint` of a later end-session request (RP-Initiated Logout 1.0 §2); null without ID tokens (GitHub). */
  idToken: string | null;
  /** The provider's session id (`sid`), which its back-channel logout names; null when the ID token has none. */
  sid: string | null;
}

export interface CodeExchange {
  redirectUri: string;
  code: string;
  state: string;
  pkceVerifier: string;
  nonce: string;
}

export interface AuthorizationParameters {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

/** A provider as discovered: openid-client's configuration, and the key set its ID tokens are verified with (none without ID tokens). */
export interface DiscoveredProvider {
  configuration: oidc.Configuration;
  keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  /**
   * The same key set, for tokens anyone may post to the server (back-channel
   * logout tokens): a key id it does not know fetches the set again at most
   * every 30 seconds, so that made-up key ids cannot make the server hammer
   * the provider.
   */
  postedTokenKeys: ReturnType<typeof createRemoteJWKSet> | undefined;
  /** How the server authenticates at its token endpoint: named in the log of a refused exchange. */
  clientAuthMethod: TokenEndpointAuthMethod;
  /** That authentication, for a kind that makes its token request itself. */
  clientAuth: oidc.ClientAuth;
}

export interface DiscoveryOptions {
  timeoutSeconds: number;
}

/**
 * How the server speaks to one type of provider. `ProviderClients` caches
 * what `discover` returns and hands it back to the other methods; errors
 * are `ApiProblem`s: a rejected login is 401 `invalid_grant`, an
 * unreachable provider 502 `provider_unavailable`.
 */
export interface ProviderKind<C extends ProviderConfig = ProviderConfig> {
  discover(provider: C, options: DiscoveryOptions): Promise<DiscoveredProvider>;
  authorizationUrl(discovered: DiscoveredProvider, provider: C, parameters: AuthorizationParameters): URL;
  /** Exchanges the code (with PKCE) and establishes who signed in. */
  exchangeCode(discovered: DiscoveredProvider, provider: C, exchange: CodeExchange): Promise<ProviderIdentity>;
  /** The user's name in the authorization response's `user` field (Apple's), unsigned; null when it names none. */
  nameInAuthorizationResponse?(user: string): string | null;
}

export type ProviderKinds = { [T in ProviderType]: ProviderKind<Extract<ProviderConfig, { type: T }>> };
