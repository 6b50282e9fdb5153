import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ManualClock, problemCode, signIn, startHarness, type Grant, type Harness } from './support/harness.js';

const clock = new ManualClock();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

/** An access token signed with the server's own key for `grant`'s session, each claim as the server sets it unless `claims` says otherwise or `omit` leaves it out. */
async function signedWithOurKey(grant: Grant, claims: Record<string, unknown> = {}, omit: string[] = []): Promise<string> {
  const key = h.server.keys.signingKey();
  const now = Math.floor(clock.now() / 1000);
  const jwt = new SignJWT({ sid: grant.session.id, tenant: 'alpha', ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' });
  if (!omit.includes('iss')) jwt.setIssuer(String(claims.iss ?? h.config.publicUrl));
  jwt.setAudience(String(claims.aud ?? h.config.accessTokenAudience));
  if (!omit.includes('sub')) jwt.setSubject(String(claims.sub ?? grant.user.id));
  if (!omit.includes('iat')) jwt.setIssuedAt(now);
  jwt.setExpirationTime(now + 600);
  if (!omit.includes('jti')) jwt.setJti(crypto.randomUUID());
  return jwt.sign(key.privateKey);
}

describe('access tokens: only our own, for our audience', () => {
  test('When a token signed with our key names another audience or another issuer, then 401; with ours, 200', async () => {
    const grant = await signIn(h);
    const call = async (token: string) => fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await call(await signedWithOurKey(grant))).status).toBe(200);
    for (const claims of [{ aud: 'another-api' }, { iss: 'https://another-auth.example' }]) {
      const response = await call(await signedWithOurKey(grant, claims));
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
    expect(await call(await sign({}))).toBe(200);
    expect(await call(await sign({ sub: alan.user.id }))).toBe(401);
    for (const claim of ['jti', 'iat']) expect(await call(await sign({}, [claim]))).toBe(401);
    expect(await call(await sign({ sid: undefined }))).toBe(401);
    expect(await call(await sign({ tenant: undefined }))).toBe(401);
  });
});
