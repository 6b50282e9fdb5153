import { ApiProblem } from '@aimable/auth-server-kit';
import * as oidc from 'openid-client';
import type { ProviderConfig } from '../tenants/tenant.js';

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

/**
 * The one place that speaks to identity providers, through openid-client.
 * Its errors are translated here: a rejected login is 401 `invalid_grant`,
 * an unreachable provider is 502 `provider_unavailable`.
 */
export class ProviderClients {
  readonly #configurations = new Map<string, Promise<oidc.Configuration>>();

  constructor(private readonly options: { timeoutSeconds: number }) {}

  /** The discovered configuration of a tenant's provider, cached after the first success. */
  async configuration(tenantId: string, provider: ProviderConfig): Promise<oidc.Configuration> {
    const cacheKey = `${tenantId}\u0000${provider.id}`;
    let configuration = this.#configurations.get(cacheKey);
    if (!configuration) {
      configuration = this.#discover(provider);
      this.#configurations.set(cacheKey, configuration);
      configuration.catch(() => this.#configurations.delete(cacheKey));
    }
    return configuration;
  }

  async #discover(provider: ProviderConfig): Promise<oidc.Configuration> {
    // ID tokens are verified in full, signature included, even though they come over the back channel.
    const execute = [oidc.enableNonRepudiationChecks];
    // http issuers only where the tenant configuration explicitly allows them (local development).
    if (provider.allowInsecureHttp) execute.push(oidc.allowInsecureRequests);
    try {
      return await oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, oidc.ClientSecretBasic(provider.clientSecret), {
        execute,
        timeout: this.options.timeoutSeconds,
      });
    } catch (error) {
      throw new ApiProblem({
        status: 502,
        code: 'provider_unavailable',
        detail: 'The identity provider could not be reached.',
        cause: error,
      });
    }
  }

  authorizationUrl(configuration: oidc.Configuration, provider: ProviderConfig, parameters: { redirectUri: string; state: string; nonce: string; codeChallenge: string }): URL {
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
  sendsIssuerInResponses(configuration: oidc.Configuration): boolean {
    return configuration.serverMetadata().authorization_response_iss_parameter_supported === true;
  }

  issuerOf(configuration: oidc.Configuration): string {
    return configuration.serverMetadata().issuer;
  }

  /**
   * Exchanges the code with PKCE S256 and validates the ID token: signature,
   * iss, aud, exp, iat, sub and nonce (OIDC Core §3.1.3.7).
   */
  async exchangeCode(configuration: oidc.Configuration, exchange: CodeExchange): Promise<ProviderIdentity> {
    const callbackUrl = new URL(exchange.redirectUri);
    callbackUrl.searchParams.set('code', exchange.code);
    callbackUrl.searchParams.set('state', exchange.state);
    // The callback already checked `iss` (RFC 9207); restate it for openid-client's own check.
    if (this.sendsIssuerInResponses(configuration)) callbackUrl.searchParams.set('iss', this.issuerOf(configuration));
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
    if (!claims) throw new ApiProblem({ status: 401, code: 'invalid_grant', detail: 'The identity provider returned no ID token.' });
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
}

const UNREACHABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON']);
/** OAuth error responses that say the provider is down, not that the login is bad (RFC 6749 §4.1.2.1). */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error']);

function translateExchangeError(error: unknown): ApiProblem {
  const unreachable =
    (error instanceof TypeError && !(error as { code?: string }).code) ||
    (error instanceof oidc.ClientError && UNREACHABLE_CODES.has(error.code ?? '')) ||
    (error instanceof oidc.ResponseBodyError && TRANSIENT_OAUTH_ERRORS.has(error.error));
  if (unreachable) {
    return new ApiProblem({ status: 502, code: 'provider_unavailable', detail: 'The identity provider could not be reached.', cause: error });
  }
  return new ApiProblem({ status: 401, code: 'invalid_grant', detail: 'The identity provider did not confirm the login.', cause: error });
}
