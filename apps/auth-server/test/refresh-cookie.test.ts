import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loginThroughProvider, ManualClock, postSession, startHarness, type Harness } from './support/harness.js';
import { tenantsWith } from './support/tenants.js';

const clock = new ManualClock();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

describe('the refresh cookie', () => {
  test('When a session is created, then its refresh cookie lives exactly as long as the session', async () => {
    const login = await loginThroughProvider(h);
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.headers.get('set-cookie')).toMatch(/; Max-Age=2592000;/);
  });

  test('When a tenant’s cookie is SameSite=Lax, then logout clears it with SameSite=Lax too', async () => {
    const lax = await startHarness({ tenants: tenantsWith({ alpha: { session_policy: { cookie_same_site: 'Lax' } } }) });
    try {
      const login = await loginThroughProvider(lax);
      const created = await postSession(lax, { code: login.code, state: login.state, code_verifier: login.verifier });
      expect(created.headers.get('set-cookie')).toMatch(/SameSite=Lax/);
      const grant = (await created.json()) as { access_token: string };
      const logout = await fetch(`${lax.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${grant.access_token}` } });
      expect(logout.headers.get('set-cookie')).toMatch(/^__Host-aimable_refresh_alpha=; .*SameSite=Lax/);
    } finally {
      await lax.close();
    }
  });
});
