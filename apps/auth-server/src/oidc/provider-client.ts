import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import type { ProviderConfig } from '../tenants/tenant.js';
import { apple } from './apple.js';
import { sendsIssuerInResponses } from './code-grant.js';
import { github } from './github.js';
import { microsoftEntra } from './microsoft.js';
import type { AuthorizationParameters, CodeExchange, DiscoveredProvider, ProviderIdentity, ProviderKind, ProviderKinds } from './provider-kind.js';
import { standardOidc } from './standard-oidc.js';

export { idTokenAlgorithms, KEY_SET_UNAVAILABLE } from './code-grant.js';
export type { CodeExchange, DiscoveredProvider, ProviderIdentity } from './provider-kind.js';

interface CachedDiscovery {
  discovered: Promise<DiscoveredProvider>;
  fetchedAt: number;
  /** The last discovery that succeeded, served while a new one fails. */
  lastGood?: DiscoveredProvider;
}

const KINDS: ProviderKinds = {
  oidc: standardOidc,
  github,
  apple,
  microsoft: microsoftEntra,
};

/**
 * The one place that speaks to identity providers, each through the kind
 * of its type (`provider-kind.ts`). Errors are `ApiProblem`s: a rejected
 * login is 401 `invalid_grant`, an unreachable provider is 502
 * `provider_unavailable`.
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
      discovered: kindOf(provider).discover(provider, { timeoutSeconds: this.options.timeoutSeconds }).then(
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

  authorizationUrl(discovered: DiscoveredProvider, provider: ProviderConfig, parameters: AuthorizationParameters): URL {
    return kindOf(provider).authorizationUrl(discovered, provider, parameters);
  }

  /** Whether the provider sends `iss` in authorization responses (RFC 9207 §3). */
  sendsIssuerInResponses(discovered: DiscoveredProvider): boolean {
    return sendsIssuerInResponses(discovered);
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

  /** The user's name in the authorization response's `user` field, for the provider types that send one (Apple); otherwise null. */
  nameInAuthorizationResponse(provider: ProviderConfig, user: string): string | null {
    return kindOf(provider).nameInAuthorizationResponse?.(user) ?? null;
  }

  /** Exchanges the code and establishes who signed in: for OpenID Connect, from the validated ID token. */
  exchangeCode(discovered: DiscoveredProvider, provider: ProviderConfig, exchange: CodeExchange): Promise<ProviderIdentity> {
    return kindOf(provider).exchangeCode(discovered, provider, exchange);
  }
}

function kindOf<C extends ProviderConfig>(provider: C): ProviderKind<C> {
  return KINDS[provider.type] as ProviderKind<C>;
}
