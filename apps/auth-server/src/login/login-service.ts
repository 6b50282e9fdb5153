import { createHash, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import type { TenantConfig } from '../tenants/tenant.js';
import { randomSecret, sha256Hex } from '../ids.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import { callbackStateInvalid, invalidRequest, loginRejected, loginStateInvalid, redirectUriNotAllowed } from '../problems.js';
import type { AuthStore } from '../store/auth-store.js';
import type { LoginStateRecord } from '../store/schema.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import { isAllowedRedirectUri } from './redirect-allowlist.js';
import type { RequestOrigin } from '../request-origin.js';

export interface StartLogin {
  /** The tenant the request names. */
  tenant: TenantConfig;
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
  /** Apple's `user` form field: the name on a user's first sign-in, unsigned. */
  user?: string;
}

/** What `POST /v1/auth/oidc/session` presents: the state, and the proof that it started the login. */
export interface Redemption {
  state: string;
  /** The tenant the request names, if it names one: it must be the state's own. */
  tenantId?: string | undefined;
  codeVerifier?: string;
}

/** A login state that the presenter may redeem: its tenant, and the state as stored. */
export interface RedeemableLogin {
  tenant: TenantConfig;
  stateHash: string;
  saved: LoginStateRecord;
}

/** RFC 6749 §4.1.2.1: the error codes an authorization response may carry. Nothing else reaches the frontend. */
const AUTHORIZATION_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
]);

const PKCE_INSTRUCTIONS =
  'create a random code_verifier, keep it, and send code_challenge=BASE64URL(SHA256(code_verifier)) with code_challenge_method=S256 (RFC 7636).';

export interface LoginServiceOptions {
  publicUrl: string;
  stateTtlSeconds: number;
}

/** Told, and awaited, when the provider sent a login back with a code; never given the code or the state. */
export interface LoginEvents {
  completed(event: { tenantId: string; origin?: RequestOrigin | undefined }): Promise<void> | void;
}

/** Starting a login and receiving the provider's answer. */
export class LoginService {
  constructor(
    private readonly store: AuthStore,
    private readonly tenants: TenantRegistry,
    private readonly providers: ProviderClients,
    private readonly clock: Clock,
    private readonly options: LoginServiceOptions,
    private readonly events: LoginEvents = { completed: () => undefined },
  ) {}

  /** The callback URL registered with providers for `providerId`. */
  callbackUrl(providerId: string): string {
    return `${this.options.publicUrl}/v1/auth/oidc/${encodeURIComponent(providerId)}/callback`;
  }

  /** Starts a login; `beforeStore` runs once every check has passed, just before the state is stored. */
  async start(request: StartLogin, beforeStore?: () => Promise<void>): Promise<StartedLogin> {
    const { tenant } = request;
    const provider = this.tenants.requireProvider(tenant, request.providerId);
    // RFC 9700 §4.11.1: never redirect to a URI not on the tenant's exact allowlist.
    if (!isAllowedRedirectUri(tenant, request.frontendRedirectUri)) {
      throw redirectUriNotAllowed();
    }
    // RFC 9700 §2.1.1 and §4.7.1: the frontend's challenge binds the login to the browser that started it.
    if (request.codeChallenge === undefined && tenant.sessionPolicy.frontendPkce === 'required') {
      throw invalidRequest('query.code_challenge', `is required: ${PKCE_INSTRUCTIONS}`);
    }
    if (request.codeChallengeMethod !== undefined && request.codeChallenge === undefined) {
      throw invalidRequest('query.code_challenge', 'is required with code_challenge_method');
    }
    // RFC 7636 §4.3: an absent method means `plain`, which is not accepted.
    if (request.codeChallenge !== undefined && request.codeChallengeMethod !== 'S256') {
      throw invalidRequest('query.code_challenge_method', 'must be S256 (without it, RFC 7636 §4.3 means plain, which is not accepted)');
    }
    const configuration = await this.providers.configuration(tenant.id, provider);
    await beforeStore?.();

    // 256 bits of randomness, stored server-side only as a hash: never a self-contained token.
    const state = randomSecret(32);
    const nonce = randomSecret(32);
    const pkceVerifier = oidc.randomPKCECodeVerifier();
    const now = this.clock.now();
    const expiresAt = now + this.options.stateTtlSeconds * 1000;
    await this.store.insertLoginState({
      stateHash: sha256Hex(state),
      tenantId: tenant.id,
      providerId: provider.id,
      redirectUri: request.frontendRedirectUri,
      pkceVerifier,
      nonce,
      codeChallenge: request.codeChallenge ?? null,
      createdAt: now,
      expiresAt,
      consumedAt: null,
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
  async receive(response: AuthorizationResponse, origin?: RequestOrigin): Promise<string> {
    const stateHash = sha256Hex(response.state);
    const now = this.clock.now();
    const saved = await this.store.findLiveLoginState(stateHash, now);
    // Unknown, expired, used, or started for another provider: there is no safe place to redirect to.
    // A tenant or provider removed from the configuration since the login started ends it the same way.
    const tenant = saved && saved.providerId === response.providerId ? this.tenants.find(saved.tenantId) : undefined;
    const provider = tenant && this.tenants.findProvider(tenant, saved!.providerId);
    if (!saved || !tenant || !provider) throw callbackStateInvalid();
    const configuration = await this.providers.configuration(tenant.id, provider);

    const target = new URL(saved.redirectUri);
    /**
     * Only a code from RFC 6749 §4.1.2.1 goes back, never `error_description`
     * or other free text: whoever made the link chose it, and the frontend
     * would show it on the tenant's own page (content injection, phishing).
     * The state is left to expire: anyone who knows it can send this
     * request, so it must not be able to end someone else's login. Without
     * a code from the provider, the state redeems nothing.
     */
    const fail = (error: string) => {
      target.searchParams.set('error', AUTHORIZATION_ERRORS.has(error) ? error : 'server_error');
      target.searchParams.set('state', response.state);
      return target.href;
    };

    // RFC 9207 §2.4: the response must come from the issuer the login was sent to (mix-up defence).
    const expectedIssuer = this.providers.issuerOf(configuration);
    if (response.iss !== undefined ? response.iss !== expectedIssuer : this.providers.sendsIssuerInResponses(configuration)) {
      return fail('invalid_request');
    }
    if (response.error !== undefined) return fail(response.error);
    if (response.code === undefined) return fail('invalid_request');

    target.searchParams.set('code', response.code);
    target.searchParams.set('state', response.state);
    // Kept with the login until the session is made. Only the first return records it: whoever replays the
    // callback later (the state may have leaked from the frontend's URL) cannot rename the user.
    const name = response.user === undefined ? null : this.providers.nameInAuthorizationResponse(provider, response.user);
    // Audited once per state: a callback sent again (a reload, or someone replaying the link) records nothing new.
    if (await this.store.markLoginReturned(stateHash, now, name)) await this.events.completed({ tenantId: tenant.id, origin });
    return target.href;
  }

  /**
   * Checks, before anything is written, that the presenter of `state` may
   * redeem it: the state is known and unexpired, belongs to the tenant the
   * request names (if it names one), and the presenter holds the
   * `code_verifier` of the challenge the login started with (RFC 7636
   * §4.6). A code and state taken from a URL, or planted in another
   * browser, are worthless without it. Whether the state is still unused is
   * decided atomically when it is consumed.
   */
  async requireRedeemableLogin(request: Redemption): Promise<RedeemableLogin> {
    const stateHash = sha256Hex(request.state);
    const saved = await this.store.findLoginState(stateHash, this.clock.now());
    const tenant = saved && this.tenants.find(saved.tenantId);
    if (!saved || !tenant) throw loginStateInvalid();
    if (saved.codeChallenge === null) {
      // Started without a challenge: only a tenant that made frontend PKCE optional accepts that.
      if (tenant.sessionPolicy.frontendPkce === 'required') {
        throw loginRejected('invalid_grant', 'This login was started without a code_challenge; start it again with one.');
      }
    } else if (request.codeVerifier === undefined) {
      throw loginRejected('invalid_grant', 'code_verifier is required: send the verifier whose challenge started this login.');
    } else if (!verifierMatches(request.codeVerifier, saved.codeChallenge)) {
      throw loginRejected('invalid_grant', 'code_verifier does not match the code_challenge of this login.');
    }
    // Checked after the verifier, so that only the browser holding it learns anything: to it, another
    // tenant's state answers exactly as an unknown one.
    if (request.tenantId !== undefined && request.tenantId !== tenant.id) throw loginStateInvalid();
    return { tenant, stateHash, saved };
  }
}

function verifierMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(challenge);
  // Both are 43 characters (SHA-256 in base64url; a challenge the contract pins to 43); the check keeps timingSafeEqual from throwing if that ever changed.
  // Stryker disable next-line ConditionalExpression: see above
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
