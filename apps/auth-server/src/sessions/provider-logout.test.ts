import { describe, expect, test } from 'vitest';
import type { ProviderClients } from '../oidc/provider-client.js';
import { providerUnavailable } from '../problems.js';
import type { AuthStore } from '../store/auth-store.js';
import { DEFAULT_SESSION_POLICY, type OidcProviderConfig, type TenantConfig } from '../tenants/tenant.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { Sealing } from '../tokens/sealing.js';
import { ProviderLogout } from './provider-logout.js';
import type { Authenticated, SessionService } from './session-service.js';

/**
 * A provider that cannot be reached when a user signs out: over HTTP, a
 * server's last good discovery hides the outage, which only an instance
 * that never reached the provider meets. Its collaborators are stand-ins.
 */
describe('signing out at a provider that is down', () => {
  const provider = { id: 'dev', type: 'oidc' } as OidcProviderConfig;
  const tenant = { id: 't', providers: [provider], redirectUris: ['https://app.example/cb'], sessionPolicy: DEFAULT_SESSION_POLICY } as unknown as TenantConfig;
  const auth = { tenant, session: { id: 'ses_1', providerId: 'dev' } } as unknown as Authenticated;

  test('When the provider cannot be reached, then the session is revoked all the same, the answer has no URL, and the failure is told', async () => {
    const loggedOut: string[] = [];
    const warnings: unknown[] = [];
    const logout = new ProviderLogout(
      { findSessionIdToken: () => Promise.resolve('sealed') } as unknown as AuthStore,
      { findProvider: () => provider } as unknown as TenantRegistry,
      { configuration: () => Promise.reject(providerUnavailable(new Error('connect ECONNREFUSED'))) } as unknown as ProviderClients,
      { logout: (a: Authenticated) => Promise.resolve(void loggedOut.push(a.session.id)) } as unknown as SessionService,
      {} as Sealing,
      { now: () => 0 },
      { ended: () => undefined },
      (error) => warnings.push(error),
    );
    expect(await logout.logOut(auth, undefined)).toBeNull();
    expect(loggedOut).toEqual(['ses_1']);
    expect(warnings).toHaveLength(1);
  });

});
