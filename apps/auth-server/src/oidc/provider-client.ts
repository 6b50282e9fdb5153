import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import { loginRejected, providerUnavailable } from '../problems.js';
import type { ProviderConfig } from '../tenants/tenant.js';

/** What a successful code exchange yields: the validated ID token's identity. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
  /** The ID token itself: the `id_token_hint` of a later end-session request (RP-Initiated Logout 1.0 §2). */
  idToken: string;
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

/** A provider as discovered: openid-client's configuration, and the key set its ID tokens are verified with. */
export interface DiscoveredProvider {
  configuration: oidc.Configuration;
  keys: ReturnType<typeof createRemoteJWKSet>;
  /**
   * The same key set, for tokens anyone may post to the server (back-channel
   * logout tokens): a key id it does not know fetches the set again at most
   * every 30 seconds, so that made-up key ids cannot make the server hammer
   * the provider.
   */
  postedTokenKeys: ReturnType<typeof createRemoteJWKSet>;
}

interface CachedDiscovery {
  discovered: Promise<DiscoveredProvider>;
  fetchedAt: number;
  /** The last discovery that succeeded, served while a new one fails. */
  lastGood?: DiscoveredProvider;
}

/**
 * The one place that speaks to identity providers, through openid-client.
 * Its errors are translated here: a rejected login is 401 `invalid_grant`,
 * an unreachable provider is 502 `provider_unavailable`.
 */
export class ProviderClients {
  readonly #discoveries = new Map<string, CachedDiscovery>();

  constructor(
    private readonly options: { timeoutSeconds: number; discoveryTtlSeconds: number },
    private readonly clock: Clock,
  ) {}

  /**
   * The discovered configuration of a tenant's provider. It is trusted for
   * the discovery lifetime, then fetched again, so that a provider's changed
   * endpoints are followed without a restart; while a new discovery fails,
   * the last good one keeps serving.
   */
  async configuration(tenantId: string, provider: ProviderConfig): Promise<DiscoveredProvider> {
    const cacheKey = `${tenantId}\u0000${provider.id}`;
    const now = this.clock.now();
    const cached = this.#discoveries.get(cacheKey);
    if (cached && now - cached.fetchedAt < this.options.discoveryTtlSeconds * 1000) return cached.discovered;
    const lastGood = cached?.lastGood;
    const entry: CachedDiscovery = {
      fetchedAt: now,
      lastGood,
      discovered: this.#discover(provider).then(
        (discovered) => {
          entry.lastGood = discovered;
          return discovered;
        },
        (error: unknown) => {
          if (lastGood) return lastGood;
          if (this.#discoveries.get(cacheKey) === entry) this.#discoveries.delete(cacheKey);
          throw error;
        },
      ),
    };
    this.#discoveries.set(cacheKey, entry);
    return entry.discovered;
  }

  async #discover(provider: ProviderConfig): Promise<DiscoveredProvider> {
    // http issuers only where the tenant configuration explicitly allows them (local development).
    const execute = provider.allowInsecureHttp ? [oidc.allowInsecureRequests] : [];
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, oidc.ClientSecretBasic(provider.clientSecret), {
        execute,
        timeout: this.options.timeoutSeconds,
      });
    } catch (error) {
      throw providerUnavailable(error);
    }
    const jwksUri = configuration.serverMetadata().jwks_uri;
    if (!jwksUri || (!jwksUri.startsWith('https://') && !provider.allowInsecureHttp)) {
      throw providerUnavailable(new Error(`the provider's jwks_uri is missing or not https: ${jwksUri ?? '(none)'}`));
    }
    // A key id the set does not know means the provider rotated its keys: fetch the set again at once
    // (OIDF rp-key-rotation-op-sign-key). ID tokens come from its token endpoint only, so no one else can
    // make us fetch it.
    const keys = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 0, cacheMaxAge: 10 * 60 * 1000, timeoutDuration: this.options.timeoutSeconds * 1000 });
    const postedTokenKeys = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 30 * 1000, cacheMaxAge: 10 * 60 * 1000, timeoutDuration: this.options.timeoutSeconds * 1000 });
    return { configuration, keys, postedTokenKeys };
  }

  authorizationUrl({ configuration }: DiscoveredProvider, provider: ProviderConfig, parameters: { redirectUri: string; state: string; nonce: string; codeChallenge: string }): URL {
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: parameters.redirectUri,
      scope: provider.scopes.join(' '),
      response_type: 'code',
      state: parameters.state,
      nonce: parameters.nonce,
      code_challenge: parameters.codeChallenge,
      code_challenge_method: 'S256',
    });
  }

  /** Whether the provider sends `iss` in authorization responses (RFC 9207 §3). */
  sendsIssuerInResponses({ configuration }: DiscoveredProvider): boolean {
    return configuration.serverMetadata().authorization_response_iss_parameter_supported === true;
  }

  issuerOf({ configuration }: DiscoveredProvider): string {
    return configuration.serverMetadata().issuer;
  }

  /** Whether the provider announces an `end_session_endpoint` (RP-Initiated Logout 1.0 §2.1). */
  announcesEndSession({ configuration }: DiscoveredProvider): boolean {
    return typeof configuration.serverMetadata().end_session_endpoint === 'string';
  }

  /**
   * The provider's end-session URL (RP-Initiated Logout 1.0 §2), with
   * `id_token_hint`, `client_id` and `post_logout_redirect_uri` when given;
   * null when the provider announces no `end_session_endpoint`.
   */
  endSessionUrl(discovered: DiscoveredProvider, parameters: { idTokenHint: string; postLogoutRedirectUri?: string | undefined }): URL | null {
    if (!this.announcesEndSession(discovered)) return null;
    return oidc.buildEndSessionUrl(discovered.configuration, {
      id_token_hint: parameters.idTokenHint,
      ...(parameters.postLogoutRedirectUri === undefined ? {} : { post_logout_redirect_uri: parameters.postLogoutRedirectUri }),
    });
  }

  /**
   * Exchanges the code with PKCE S256 and validates the ID token (OIDC
   * Core §3.1.3.7): openid-client checks iss, aud, exp, iat, sub and nonce,
   * and its signature is verified against the provider's key set, even
   * though it comes over the back channel.
   */
  async exchangeCode(discovered: DiscoveredProvider, exchange: CodeExchange): Promise<ProviderIdentity> {
    const { configuration } = discovered;
    const callbackUrl = new URL(exchange.redirectUri);
    callbackUrl.searchParams.set('code', exchange.code);
    callbackUrl.searchParams.set('state', exchange.state);
    // The callback already checked `iss` (RFC 9207); restate it for openid-client's own check.
    if (this.sendsIssuerInResponses(discovered)) callbackUrl.searchParams.set('iss', this.issuerOf(discovered));
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: exchange.pkceVerifier,
        expectedNonce: exchange.nonce,
        expectedState: exchange.state,
        idTokenExpected: true,
      });
    } catch (error) {
      throw translateExchangeError(error);
    }
    const claims = tokens.claims();
    if (!claims || !tokens.id_token) throw loginRejected('invalid_grant', 'The identity provider returned no ID token.');
    await this.#verifySignature(discovered, tokens.id_token);
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: text(claims.email),
      emailVerified: claims.email_verified === true,
      name: text(claims.name),
      picture: text(claims.picture),
      idToken: tokens.id_token,
      // Stored with the session (up to 255 characters): a longer one could not name it, and is not kept.
      sid: typeof claims.sid === 'string' && claims.sid.length <= 255 ? text(claims.sid) : null,
    };
  }

  /** The ID token's signature, with one of the algorithms the provider announces, and never `none` or a shared secret. */
  async #verifySignature(discovered: DiscoveredProvider, idToken: string): Promise<void> {
    try {
      await jwtVerify(idToken, discovered.keys, { algorithms: idTokenAlgorithms(discovered) });
    } catch (error) {
      // The key set could not be fetched or read: the provider's fault, not the login's.
      const unreachable = error instanceof TypeError || KEY_SET_UNAVAILABLE.has((error as { code?: string }).code ?? '');
      if (unreachable) throw providerUnavailable(error);
      throw loginRejected('invalid_grant', 'The identity provider did not confirm the login.', error);
    }
  }
}

/** The algorithms the provider announces for its ID tokens (and so its logout tokens), never `none` or a shared secret. */
export function idTokenAlgorithms({ configuration }: DiscoveredProvider): string[] {
  const announced: unknown = configuration.serverMetadata().id_token_signing_alg_values_supported ?? ['RS256'];
  return (Array.isArray(announced) ? announced : []).filter((alg): alg is string => typeof alg === 'string' && alg !== 'none' && !alg.startsWith('HS'));
}

/** jose's errors that say the key set could not be fetched or read: the provider's fault, not the token's. */
export const KEY_SET_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);
const UNREACHABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON']);
/** OAuth error responses that say the provider is down, not that the login is bad (RFC 6749 §4.1.2.1). */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error']);

function translateExchangeError(error: unknown): Error {
  const unreachable =
    (error instanceof TypeError && !(error as { code?: string }).code) ||
    (error instanceof oidc.ClientError && UNREACHABLE_CODES.has(error.code ?? '')) ||
    (error instanceof oidc.ResponseBodyError && TRANSIENT_OAUTH_ERRORS.has(error.error));
  if (unreachable) {
    return providerUnavailable(error);
  }
  return loginRejected('invalid_grant', 'The identity provider did not confirm the login.', error);
}
