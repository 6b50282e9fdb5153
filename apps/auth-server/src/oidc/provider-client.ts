import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import { loginRejected, providerNotUsable, providerUnavailable } from '../problems.js';
import type { ProviderConfig, TokenEndpointAuthMethod } from '../tenants/tenant.js';
import { ClientAuthDisagreement, tokenEndpointAuthentication } from './client-auth.js';

/** What a successful code exchange yields: the validated ID token's identity. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
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
  /** How the server authenticates at its token endpoint. */
  clientAuthMethod: TokenEndpointAuthMethod;
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
    const tokenEndpointAuth = tokenEndpointAuthentication(provider);
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, tokenEndpointAuth.clientAuth, {
        execute,
        timeout: this.options.timeoutSeconds,
      });
    } catch (error) {
      throw providerUnavailable(error);
    }
    let clientAuthMethod: TokenEndpointAuthMethod;
    try {
      clientAuthMethod = await tokenEndpointAuth.settle(configuration.serverMetadata());
    } catch (error) {
      throw error instanceof ClientAuthDisagreement ? providerNotUsable(error) : error;
    }
    const jwksUri = configuration.serverMetadata().jwks_uri;
    if (!jwksUri || (!jwksUri.startsWith('https://') && !provider.allowInsecureHttp)) {
      throw providerUnavailable(new Error(`the provider's jwks_uri is missing or not https: ${jwksUri ?? '(none)'}`));
    }
    // A key id the set does not know means the provider rotated its keys: fetch the set again at once
    // (OIDF rp-key-rotation-op-sign-key). ID tokens come from its token endpoint only, so no one else can
    // make us fetch it.
    const keys = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 0, cacheMaxAge: 10 * 60 * 1000, timeoutDuration: this.options.timeoutSeconds * 1000 });
    return { configuration, keys, clientAuthMethod };
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
      throw translateExchangeError(error, discovered.clientAuthMethod);
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
    };
  }

  /** The ID token's signature, with one of the algorithms the provider announces, and never `none` or a shared secret. */
  async #verifySignature({ configuration, keys }: DiscoveredProvider, idToken: string): Promise<void> {
    const announced: unknown = configuration.serverMetadata().id_token_signing_alg_values_supported ?? ['RS256'];
    const algorithms = (Array.isArray(announced) ? announced : []).filter((alg): alg is string => typeof alg === 'string' && alg !== 'none' && !alg.startsWith('HS'));
    try {
      await jwtVerify(idToken, keys, { algorithms });
    } catch (error) {
      // The key set could not be fetched or read: the provider's fault, not the login's.
      const unreachable = error instanceof TypeError || KEY_SET_UNAVAILABLE.has((error as { code?: string }).code ?? '');
      if (unreachable) throw providerUnavailable(error);
      throw loginRejected('invalid_grant', 'The identity provider did not confirm the login.', error);
    }
  }
}

const KEY_SET_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);
const UNREACHABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON']);
/** OAuth error responses that say the provider is down, not that the login is bad (RFC 6749 §4.1.2.1). */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error']);

function translateExchangeError(error: unknown, method: TokenEndpointAuthMethod): Error {
  const unreachable =
    (error instanceof TypeError && !(error as { code?: string }).code) ||
    (error instanceof oidc.ClientError && UNREACHABLE_CODES.has(error.code ?? '')) ||
    (error instanceof oidc.ResponseBodyError && TRANSIENT_OAUTH_ERRORS.has(error.error));
  const cause = new CodeExchangeFailure(method, error);
  if (unreachable) {
    return providerUnavailable(cause);
  }
  return loginRejected('invalid_grant', 'The identity provider did not confirm the login.', cause);
}

/**
 * For the log: how the server authenticated, and what the provider answered
 * (its `error` and `error_description`). The request's secret, assertion and
 * code are in none of them.
 */
class CodeExchangeFailure extends Error {
  override name = 'CodeExchangeFailure';
  constructor(method: TokenEndpointAuthMethod, cause: unknown) {
    const answer = providerAnswer(cause);
    super(`the code exchange, authenticated with ${method}, failed${answer ? `: the provider answered ${answer}` : ''}`, { cause });
  }
}

function providerAnswer(error: unknown): string | undefined {
  let answer: { error?: unknown; error_description?: unknown } | undefined;
  if (error instanceof oidc.ResponseBodyError) answer = error;
  // A 401 with `WWW-Authenticate` (RFC 6749 §5.2, invalid_client) carries the error in the challenge.
  else if (error instanceof oidc.WWWAuthenticateChallengeError) answer = error.cause[0]?.parameters;
  if (typeof answer?.error !== 'string') return undefined;
  return typeof answer.error_description === 'string' ? `${answer.error} (${answer.error_description})` : answer.error;
}
