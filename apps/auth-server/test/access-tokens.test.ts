import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedAccessToken } from './support/access-tokens.js';
import { ManualClock, problemCode, signIn, startHarness, type Grant, type Harness } from './support/harness.js';

const clock = new ManualClock();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

/** An access token signed with the server's own key for `grant`'s session, each claim as the server sets it unless `claims` says otherwise or `omit` leaves it out. */
function signedWithOurKey(grant: Grant, claims: Record<string, unknown> = {}, omit: string[] = []): string {
  const now = Math.floor(clock.now() / 1000);
  const token: Record<string, unknown> = { sid: grant.session.id, tenant: 'alpha', iss: h.config.publicUrl, aud: h.config.accessTokenAudience, sub: grant.user.id, iat: now, exp: now + 600, jti: crypto.randomUUID(), ...claims };
  for (const claim of omit) delete token[claim];
  return signedAccessToken(h.server.keys.signingKey(), token);
}

describe('access tokens: only our own, for our audience', () => {
  test('When a token signed with our key names another audience or another issuer, then 401; with ours, 200', async () => {
    const grant = await signIn(h);
    const call = async (token: string) => fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await call(signedWithOurKey(grant))).status).toBe(200);
    for (const claims of [{ aud: 'another-api' }, { iss: 'https://another-auth.example' }]) {
      const response = await call(signedWithOurKey(grant, claims));
      expect(response.status).toBe(401);
      expect(await problemCode(response)).toBe('invalid_access_token');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });
});

describe('what the access token must name', () => {
  test('When a token signed with our key names a session of another user, or lacks a claim, then it is refused', async () => {
    const ada = await signIn(h, { username: 'ada' });
    const alan = await signIn(h, { username: 'alan' });
    const sign = (claims: Record<string, unknown>, omit: string[] = []) => signedWithOurKey(ada, claims, omit);
    const call = async (token: string) => (await fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } })).status;
    expect(await call(sign({}))).toBe(200);
    expect(await call(sign({ sub: alan.user.id }))).toBe(401);
    for (const claim of ['jti', 'iat']) expect(await call(sign({}, [claim]))).toBe(401);
    expect(await call(sign({ sid: undefined }))).toBe(401);
    expect(await call(sign({ tenant: undefined }))).toBe(401);
  });
});
