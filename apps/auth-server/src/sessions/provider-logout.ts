import type { Clock } from '../clock.js';
import { isAllowedPostLogoutRedirectUri } from '../login/redirect-allowlist.js';
import { verifyLogoutToken } from '../oidc/logout-token.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import { invalidLogoutToken, postLogoutRedirectUriNotAllowed } from '../problems.js';
import type { RequestOrigin } from '../request-origin.js';
import type { AuthStore } from '../store/auth-store.js';
import type { TenantConfig } from '../tenants/tenant.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { Sealing } from '../tokens/sealing.js';
import { idTokenSealedFor, type Authenticated, type SessionEvents, type SessionService } from './session-service.js';

/** The reason a session ended because its provider said the user signed out there. */
export const PROVIDER_LOGOUT = 'provider_logout';

/**
 * Sign-out that reaches the identity provider, both ways: the user signs
 * out here and the browser is sent to end the provider's session too
 * (OpenID Connect RP-Initiated Logout 1.0), and the provider tells the
 * server that a user signed out there (Back-Channel Logout 1.0).
 */
export class ProviderLogout {
  constructor(
    private readonly store: AuthStore,
    private readonly tenants: TenantRegistry,
    private readonly providers: ProviderClients,
    private readonly sessions: SessionService,
    private readonly sealer: Sealing,
    private readonly clock: Clock,
    private readonly events: Pick<SessionEvents, 'ended'>,
    /** Told when the provider's end-session URL could not be made: the session is revoked all the same. */
    private readonly warn: (error: unknown) => void = () => undefined,
  ) {}

  /**
   * Logs the session out, and answers where the browser goes to sign out at
   * the provider: its end-session URL with the session's ID token as
   * `id_token_hint`; null when the provider has no end-session endpoint or
   * no ID token was kept, or when the provider cannot be asked now. Only
   * a post-logout URI off the allowlist refuses, before anything is
   * revoked: a provider that is down never keeps a user signed in here.
   */
  async logOut(auth: Authenticated, postLogoutRedirectUri: string | undefined, origin?: RequestOrigin): Promise<string | null> {
    // RFC 9700 §4.11.1, as for a login's redirect: the provider sends the browser only to a URI on the tenant's exact allowlist.
    if (postLogoutRedirectUri !== undefined && !isAllowedPostLogoutRedirectUri(auth.tenant, postLogoutRedirectUri)) throw postLogoutRedirectUriNotAllowed();
    const provider = this.tenants.findProvider(auth.tenant, auth.session.providerId);
    const sealed = await this.store.findSessionIdToken(auth.tenant.id, auth.session.id);
    let url: URL | null = null;
    if (provider && sealed !== undefined) {
      try {
        const discovered = await this.providers.configuration(auth.tenant.id, provider);
        const idTokenHint = await this.sealer.open(sealed, idTokenSealedFor(auth.session.id));
        url = this.providers.endSessionUrl(discovered, { idTokenHint, postLogoutRedirectUri });
      } catch (error) {
        this.warn(error);
      }
    }
    // The ID token goes with the session: it is dropped as the session is revoked.
    await this.sessions.logout(auth, origin);
    return url?.href ?? null;
  }

  /**
   * Acts on a provider's logout token (Back-Channel Logout 1.0 §2.7): once
   * it is valid, and its `jti` not seen before, the sessions it names are
   * revoked, in the database every instance reads. A replay, or any
   * invalid token, revokes nothing.
   */
  async receiveLogoutToken(tenant: TenantConfig, providerId: string, logoutToken: string, origin?: RequestOrigin): Promise<void> {
    const provider = this.tenants.requireProvider(tenant, providerId);
    const discovered = await this.providers.configuration(tenant.id, provider);
    const now = this.clock.now();
    const claims = await verifyLogoutToken(discovered, provider, this.providers.issuerOf(discovered), logoutToken, now);
    const revoked = await this.store.transaction(async (tx) => {
      // §2.6 step 8: a token seen before is refused; the record commits only with the revocations it led to.
      const first = await tx.recordLogoutTokenJti({ tenantId: tenant.id, providerId: provider.id, jti: claims.jti, expiresAt: claims.acceptableUntil }, now);
      if (!first) throw invalidLogoutToken('the logout token was received before (its jti is recorded)');
      return tx.revokeProviderSessions(tenant.id, provider.id, { issuer: claims.issuer, sid: claims.sid, subject: claims.subject }, PROVIDER_LOGOUT, now);
    });
    for (const session of revoked) {
      await this.events.ended({ tenantId: tenant.id, sessionId: session.id, userId: session.userId, by: 'provider_logout', origin });
    }
  }
}
