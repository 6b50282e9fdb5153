import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, failure, loginThroughProvider, pkcePair, postSession, problemCode, refresh, refreshCookieOf, startHarness, startJson, type Harness } from './support/harness.js';
import { API_KEY, REDIRECT_URI } from './support/tenants.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.close());

describe('the full login flow, against the real local identity provider', () => {
  test('When a user signs in, uses and refreshes the session, and logs out, then each step behaves and nothing secret is logged', async () => {
    const login = await loginThroughProvider(h);
    const secrets = [...login.secrets, API_KEY];

    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const cookie = created.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^__Host-aimable_refresh_alpha=rt_[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    const grant = (await created.json()) as { access_token: string; refresh_token?: string; token_type: string; expires_in: number; session: { id: string }; user: { email: string; email_verified: boolean; name: string } };
    expect(grant.refresh_token).toBeUndefined();
    expect(grant).toMatchObject({ token_type: 'Bearer', expires_in: 900, user: { email: 'ada@example.com', email_verified: true } });
    const refreshToken = refreshCookieOf(created);
    secrets.push(grant.access_token, refreshToken);

    const current = await apiClient(h, { accessToken: grant.access_token }).getCurrentSession({});
    expect(current.data).toMatchObject({ session: { id: grant.session.id }, user: { email: 'ada@example.com' } });

    const refreshed = await refresh(h, refreshToken, { viaCookie: true });
    expect(refreshed.status).toBe(200);
    const rotated = refreshCookieOf(refreshed);
    expect(rotated).not.toBe(refreshToken);
    const refreshedGrant = (await refreshed.json()) as { access_token: string; refresh_token?: string; session: { id: string } };
    expect(refreshedGrant.refresh_token).toBeUndefined();
    expect(refreshedGrant.session.id).toBe(grant.session.id);
    secrets.push(refreshedGrant.access_token, rotated);

    const { response: logout } = await apiClient(h, { accessToken: refreshedGrant.access_token }).logout({});
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(/^__Host-aimable_refresh_alpha=; .*Expires=Thu, 01 Jan 1970/);

    const afterLogout = await refresh(h, rotated, { viaCookie: true });
    expect(afterLogout.status).toBe(401);
    expect(await problemCode(afterLogout)).toBe('invalid_refresh_token');
    const sessionAfterLogout = await failure(apiClient(h, { accessToken: refreshedGrant.access_token }).getCurrentSession({}));
    expect(sessionAfterLogout).toMatchObject({ status: 401, code: 'invalid_access_token' });

    const logText = h.logs.join('');
    expect(h.logs.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(logText).not.toContain(secret);
    expect(logText).not.toContain('test-client-secret');
  });

  test('When requests fail on malformed or wrong input, then the logs still hold no secret from them', async () => {
    const secret = 'rt_SecretThatMustNotBeLogged0123456789abcdefgh';
    await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' }, body: `{"refresh_token":${secret}}` });
    await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: secret }) });
    await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': `ak_${secret}` }, body: '' });
    await postSession(h, { code: `code-${secret}`, state: `state-${secret}` });
    await fetch(`${h.url}/v1/auth/oidc/dev/callback?code=code-${secret}&state=state-${secret}`);
    await fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${secret}` } });
    const logText = h.logs.join('');
    expect(logText).toContain('request refused');
    expect(logText).not.toContain(secret);
    expect(logText).not.toContain('rt_Secret');
  });

  test('When a SPA asks start for JSON, then it gets the authorization URL, the state and its expiry', async () => {
    const body = await startJson(h);
    const url = new URL(body.authorizationUrl);
    expect(url.searchParams.get('state')).toBe(body.state);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(Buffer.from(body.state, 'base64url').length).toBeGreaterThanOrEqual(16);
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(9 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
  });

  test('When the providers of a tenant are listed, then the login page gets ids and names', async () => {
    const { data } = await apiClient(h, { tenant: 'beta' }).listProviders({});
    expect(data).toEqual({ data: [{ id: 'dev', display_name: 'Local', type: 'oidc' }, { id: 'other', display_name: 'Other', type: 'oidc' }] });
  });

  test('When the key set is fetched, then it verifies issued access tokens', async () => {
    const { data: jwks } = await apiClient(h).getJwks({});
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', alg: 'EdDSA' });
    expect((jwks.keys[0] as Record<string, unknown>).d).toBeUndefined();
  });

  test('When the probes are called, then the server is alive and ready', async () => {
    expect((await apiClient(h).getHealth({})).data).toEqual({ status: 'ok' });
    expect((await apiClient(h).getReadiness({})).data).toEqual({ status: 'ready', checks: { database: 'ok' } });
  });
});

describe('naming the tenant where a browser can', () => {
  const pkce = () => `code_challenge=${pkcePair().challenge}&code_challenge_method=S256`;

  test('When a browser navigates to start with tenant in the query and no headers at all, then it gets the 302 to the provider', async () => {
    const response = await fetch(`${h.url}/v1/auth/oidc/dev/start?tenant=alpha&frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${pkce()}`, {
      headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toMatch(new RegExp(`^${h.idp!.issuer}/auth\\?`));
  });

  test('When the header and the query name different tenants, then 400 and no state is stored; when they agree, the login starts', async () => {
    const before = (await h.server.store.countRows()).loginStates;
    const url = (tenant: string) => `${h.url}/v1/auth/oidc/dev/start?tenant=${tenant}&frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${pkce()}`;
    const conflict = await fetch(url('beta'), { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    expect(conflict.status).toBe(400);
    const problem = (await conflict.json()) as { code: string; errors: { location: string; message: string }[] };
    expect(problem.code).toBe('invalid_request');
    expect(problem.errors).toEqual([{ location: 'query.tenant', message: 'differs from X-Tenant-Id; send one, or the same tenant in both' }]);
    expect((await h.server.store.countRows()).loginStates).toBe(before);
    expect((await fetch(url('alpha'), { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' })).status).toBe(302);
  });

  test('When neither the header nor the query names a tenant, or the query names an unknown one, then 400', async () => {
    const none = await fetch(`${h.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${pkce()}`, { redirect: 'manual' });
    expect(none.status).toBe(400);
    expect(((await none.json()) as { errors: unknown[] }).errors).toEqual([
      { location: 'headers.x-tenant-id', message: 'is required (or the tenant query parameter, for links and navigations)' },
    ]);
    const unknown = await fetch(`${h.url}/v1/auth/oidc/dev/start?tenant=gamma&frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${pkce()}`, { redirect: 'manual' });
    expect(await problemCode(unknown)).toBe('unknown_tenant');
  });

  test('When frontend_redirect_uri is sent unencoded, then it is taken as sent; a doubly encoded one is decoded once only and refused', async () => {
    const raw = await fetch(`${h.url}/v1/auth/oidc/dev/start?tenant=alpha&frontend_redirect_uri=${REDIRECT_URI}&${pkce()}`, { redirect: 'manual' });
    expect(raw.status).toBe(302);
    const doubly = await fetch(`${h.url}/v1/auth/oidc/dev/start?tenant=alpha&frontend_redirect_uri=http://localhost:5173/auth%252Fcallback&${pkce()}`, { redirect: 'manual' });
    expect(doubly.status).toBe(400);
    expect(await problemCode(doubly)).toBe('redirect_uri_not_allowed');
  });
});
