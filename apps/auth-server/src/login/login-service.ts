import { ApiProblem } from '@aimable/auth-server-kit';
import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import { randomSecret, sha256Hex } from '../ids.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import type { AuthStore } from '../store/auth-store.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import { isAllowedRedirectUri } from './redirect-allowlist.js';

export interface StartLogin {
  tenantId: string;
  providerId: string;
  frontendRedirectUri: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

export interface StartedLogin {
  authorizationUrl: string;
  state: string;
  expiresAt: number;
}

export interface AuthorizationResponse {
  providerId: string;
  state: string;
  code?: string;
  iss?: string;
  error?: string;
  errorDescription?: string;
}

export interface LoginServiceOptions {
  publicUrl: string;
  stateTtlSeconds: number;
}

/** Starting a login and receiving the provider's answer. */
export class LoginService {
  constructor(
    private readonly store: AuthStore,
    private readonly tenants: TenantRegistry,
    private readonly providers: ProviderClients,
    private readonly clock: Clock,
    private readonly options: LoginServiceOptions,
  ) {}

  /** The callback URL registered with providers for `providerId`. */
  callbackUrl(providerId: string): string {
    return `${this.options.publicUrl}/v1/auth/oidc/${encodeURIComponent(providerId)}/callback`;
  }

  async start(request: StartLogin): Promise<StartedLogin> {
    const tenant = this.tenants.require(request.tenantId);
    const provider = this.tenants.requireProvider(tenant, request.providerId);
    // RFC 9700 §4.11.1: never redirect to a URI not on the tenant's exact allowlist.
    if (!isAllowedRedirectUri(tenant, request.frontendRedirectUri)) {
      throw new ApiProblem({ status: 400, code: 'redirect_uri_not_allowed', detail: "frontend_redirect_uri is not on the tenant's allowlist." });
    }
    if (request.codeChallengeMethod !== undefined && request.codeChallenge === undefined) {
      throw invalidRequest('query.code_challenge', 'is required with code_challenge_method');
    }
    // RFC 7636 §4.3: an absent method means `plain`, which is not accepted.
    if (request.codeChallenge !== undefined && request.codeChallengeMethod !== 'S256') {
      throw invalidRequest('query.code_challenge_method', 'must be S256');
    }
    const configuration = await this.providers.configuration(tenant.id, provider);

    // 256 bits of randomness, stored server-side only as a hash: never a self-contained token.
    const state = randomSecret(32);
    const nonce = randomSecret(32);
    const pkceVerifier = oidc.randomPKCECodeVerifier();
    const now = this.clock.now();
    const expiresAt = now + this.options.stateTtlSeconds * 1000;
    await this.store.insertLoginState({
      state_hash: sha256Hex(state),
      tenant_id: tenant.id,
      provider_id: provider.id,
      redirect_uri: request.frontendRedirectUri,
      pkce_verifier: pkceVerifier,
      nonce,
      code_challenge: request.codeChallenge ?? null,
      created_at: now,
      expires_at: expiresAt,
      consumed_at: null,
    });
    const authorizationUrl = this.providers.authorizationUrl(configuration, provider, {
      redirectUri: this.callbackUrl(provider.id),
      state,
      nonce,
      codeChallenge: await oidc.calculatePKCECodeChallenge(pkceVerifier),
    });
    return { authorizationUrl: authorizationUrl.href, state, expiresAt };
  }

  /** Where to send the browser back to: the saved frontend URI, with the result. */
  async receive(response: AuthorizationResponse): Promise<string> {
    const stateHash = sha256Hex(response.state);
    const now = this.clock.now();
    const saved = await this.store.findLiveLoginState(stateHash, now);
    // Unknown, expired, used, or started for another provider: there is no safe place to redirect to.
    if (!saved || saved.provider_id !== response.providerId) {
      throw new ApiProblem({ status: 400, code: 'invalid_state', detail: 'The login state is unknown or expired. Start the login again.' });
    }
    const tenant = this.tenants.require(saved.tenant_id);
    const provider = this.tenants.requireProvider(tenant, saved.provider_id);
    const configuration = await this.providers.configuration(tenant.id, provider);

    const target = new URL(saved.redirect_uri);
    const fail = async (error: string, description?: string) => {
      // A failed login ends its state: it is single-use.
      await this.store.consumeLoginState(stateHash, tenant.id, now);
      target.searchParams.set('error', error);
      if (description) target.searchParams.set('error_description', description);
      target.searchParams.set('state', response.state);
      return target.href;
    };

    // RFC 9207 §2.4: the response must come from the issuer the login was sent to (mix-up defence).
    const expectedIssuer = this.providers.issuerOf(configuration);
    if (response.iss !== undefined ? response.iss !== expectedIssuer : this.providers.sendsIssuerInResponses(configuration)) {
      return fail('invalid_request', 'The authorization response did not come from the expected issuer.');
    }
    if (response.error !== undefined) return fail(response.error, response.errorDescription);
    if (response.code === undefined) return fail('invalid_request', 'The authorization response carried no code.');

    target.searchParams.set('code', response.code);
    target.searchParams.set('state', response.state);
    return target.href;
  }
}

function invalidRequest(location: string, message: string): ApiProblem {
  return new ApiProblem({ status: 400, code: 'invalid_request', detail: `${location} ${message}`, errors: [{ location, message }] });
}
