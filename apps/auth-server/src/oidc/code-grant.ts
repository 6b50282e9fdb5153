import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { loginRejected, providerNotUsable, providerUnavailable } from '../problems.js';
import type { TokenEndpointAuthMethod } from '../tenants/tenant.js';
import { ClientAuthDisagreement, type TokenEndpointAuthentication } from './client-auth.js';
import type { AuthorizationParameters, CodeExchange, DiscoveredProvider, ProviderIdentity } from './provider-kind.js';

export type TokenResponse = Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;

/**
 * Discovers an OpenID Connect provider at its issuer (OIDC Discovery 1.0),
 * with the key set its ID tokens are verified with.
 */
export async function discoverIssuer(
  issuer: string,
  clientId: string,
  authentication: TokenEndpointAuthentication,
  options: { timeoutSeconds: number; allowInsecureHttp: boolean },
): Promise<DiscoveredProvider> {
  // http issuers only where the tenant configuration explicitly allows them (local development).
  const execute = options.allowInsecureHttp ? [oidc.allowInsecureRequests] : [];
  let configuration: oidc.Configuration;
  try {
    configuration = await oidc.discovery(new URL(issuer), clientId, undefined, authentication.clientAuth, { execute, timeout: options.timeoutSeconds });
  } catch (error) {
    throw providerUnavailable(error);
  }
  let clientAuthMethod: TokenEndpointAuthMethod;
  try {
    clientAuthMethod = await authentication.settle(configuration.serverMetadata());
  } catch (error) {
    // A method the provider and the configuration share none of, or a configured key the platform cannot sign with.
    throw providerNotUsable(error instanceof ClientAuthDisagreement ? error : new Error('the token endpoint authentication could not be set up', { cause: error }));
  }
  return { configuration, ...keySetsOf(configuration, options), clientAuthMethod, clientAuth: authentication.clientAuth };
}

/** The provider's key sets (`DiscoveredProvider`), from its `jwks_uri`, which must be https unless the provider allows http. */
export function keySetsOf(configuration: oidc.Configuration, options: { timeoutSeconds: number; allowInsecureHttp: boolean }): Pick<DiscoveredProvider, 'keys' | 'postedTokenKeys'> {
  const jwksUri: unknown = configuration.serverMetadata().jwks_uri;
  const url = typeof jwksUri === 'string' && URL.canParse(jwksUri) ? new URL(jwksUri) : undefined;
  if (!url || (url.protocol !== 'https:' && !(options.allowInsecureHttp && url.protocol === 'http:'))) {
    throw providerUnavailable(new Error(`the provider's jwks_uri is missing, not a URL, or not https: ${String(jwksUri ?? '(none)')}`));
  }
  const timeoutDuration = options.timeoutSeconds * 1000;
  return {
    // A key id the set does not know means the provider rotated its keys: fetch the set again at once
    // (OIDF rp-key-rotation-op-sign-key). ID tokens come from its token endpoint only, so no one else can
    // make us fetch it.
    keys: createRemoteJWKSet(url, { cooldownDuration: 0, cacheMaxAge: 10 * 60 * 1000, timeoutDuration }),
    postedTokenKeys: createRemoteJWKSet(url, { cooldownDuration: 30 * 1000, cacheMaxAge: 10 * 60 * 1000, timeoutDuration }),
  };
}

/** The authorization request of the code flow, with PKCE S256 and a nonce; `extra` holds a provider's own parameters. */
export function codeFlowAuthorizationUrl(configuration: oidc.Configuration, scopes: readonly string[], parameters: AuthorizationParameters, extra: Record<string, string> = {}): URL {
  return oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: parameters.redirectUri,
    scope: scopes.join(' '),
    response_type: 'code',
    ...extra,
    state: parameters.state,
    nonce: parameters.nonce,
    code_challenge: parameters.codeChallenge,
    code_challenge_method: 'S256',
  });
}

/** Whether the provider sends `iss` in authorization responses (RFC 9207 §3). */
export function sendsIssuerInResponses({ configuration }: DiscoveredProvider): boolean {
  return configuration.serverMetadata().authorization_response_iss_parameter_supported === true;
}

/**
 * Exchanges the code with PKCE S256 at the token endpoint. With
 * `idTokenExpected`, openid-client validates the ID token (OIDC Core
 * §3.1.3.7: iss, aud, exp, iat, sub and nonce); its signature is checked
 * by `verifyIdTokenSignature`.
 */
export async function grantCode(
  discovered: DiscoveredProvider,
  exchange: CodeExchange,
  options: { idTokenExpected: boolean },
): Promise<TokenResponse> {
  const callbackUrl = new URL(exchange.redirectUri);
  callbackUrl.searchParams.set('code', exchange.code);
  callbackUrl.searchParams.set('state', exchange.state);
  // The callback already checked `iss` (RFC 9207); restate it for openid-client's own check.
  if (sendsIssuerInResponses(discovered)) callbackUrl.searchParams.set('iss', discovered.configuration.serverMetadata().issuer);
  try {
    return await oidc.authorizationCodeGrant(discovered.configuration, callbackUrl, {
      pkceCodeVerifier: exchange.pkceVerifier,
      expectedNonce: options.idTokenExpected ? exchange.nonce : undefined,
      expectedState: exchange.state,
      idTokenExpected: options.idTokenExpected,
    });
  } catch (error) {
    throw translateExchangeError(error, discovered.clientAuthMethod);
  }
}

/** The ID token's signature, with one of the algorithms the provider announces, and never `none` or a shared secret. */
export async function verifyIdTokenSignature(discovered: DiscoveredProvider, idToken: string): Promise<void> {
  if (!discovered.keys) throw loginRejected('invalid_grant', 'The identity provider did not confirm the login.', new Error('the provider has no key set'));
  try {
    await jwtVerify(idToken, discovered.keys, { algorithms: idTokenAlgorithms(discovered) });
  } catch (error) {
    // The key set could not be fetched or read: the provider's fault, not the login's.
    const unreachable = error instanceof TypeError || KEY_SET_UNAVAILABLE.has((error as { code?: string }).code ?? '');
    if (unreachable) throw providerUnavailable(error);
    throw loginRejected('invalid_grant', 'The identity provider did not confirm the login.', error);
  }
}

/** The algorithms the provider announces for its ID tokens (and so its logout tokens), never `none` or a shared secret. */
export function idTokenAlgorithms({ configuration }: DiscoveredProvider): string[] {
  const announced: unknown = configuration.serverMetadata().id_token_signing_alg_values_supported ?? ['RS256'];
  return (Array.isArray(announced) ? announced : []).filter((alg): alg is string => typeof alg === 'string' && alg !== 'none' && !alg.startsWith('HS'));
}

/** The identity in a validated ID token's claims. */
export function identityFromClaims(claims: oidc.IDToken, idToken: string): ProviderIdentity {
  return {
    issuer: claims.iss,
    subject: claims.sub,
    email: text(claims.email),
    emailVerified: claims.email_verified === true,
    name: text(claims.name),
    picture: text(claims.picture),
    idToken,
    // Stored with the session (up to 255 characters): a longer one could not name it, and is not kept.
    sid: typeof claims.sid === 'string' && claims.sid.length <= 255 ? text(claims.sid) : null,
  };
}

/** The ID token of a token response, validated and with its signature verified. */
export async function requireIdToken(discovered: DiscoveredProvider, tokens: TokenResponse): Promise<{ claims: oidc.IDToken; idToken: string }> {
  const claims = tokens.claims();
  if (!claims || !tokens.id_token) throw loginRejected('invalid_grant', 'The identity provider returned no ID token.');
  await verifyIdTokenSignature(discovered, tokens.id_token);
  return { claims, idToken: tokens.id_token };
}

export function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** jose's errors that say the key set could not be fetched or read: the provider's fault, not the token's. */
export const KEY_SET_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);
const UNREACHABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON']);
/** OAuth error responses that say the provider is down, not that the login is bad (RFC 6749 §4.1.2.1). */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error']);

export function translateExchangeError(error: unknown, method: TokenEndpointAuthMethod): Error {
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
