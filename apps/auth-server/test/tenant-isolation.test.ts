import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, failure, loginThroughProvider, postSession, problemCode, refresh, refreshCookie, signIn, startHarness, type Harness } from './support/harness.js';
import { API_KEY, OTHER_API_KEY, OTHER_REDIRECT_URI, REDIRECT_URI } from './support/tenants.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.close());

describe('tenant isolation: a credential of tenant alpha is never accepted for tenant beta', () => {
  test('When alpha’s login state is presented with beta’s tenant header, then 401 invalid_state and no session', async () => {
    const login = await loginThroughProvider(h, { tenant: 'alpha' });
    const before = await h.server.store.countRows();
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { tenant: 'beta' });
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('invalid_state');
    expect((await h.server.store.countRows()).sessions).toBe(before.sessions);
    // The state was not spent by the wrong tenant: alpha can still use it.
    const own = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { tenant: 'alpha' });
    expect(own.status).toBe(201);
  });

  test('When alpha’s authorization code is paired with a state of beta, then the exchange fails and no session is created', async () => {
    const alpha = await loginThroughProvider(h, { tenant: 'alpha' });
    const beta = await loginThroughProvider(h, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
    const before = await h.server.store.countRows();
    const response = await postSession(h, { code: alpha.code, state: beta.state, code_verifier: beta.verifier }, { tenant: 'beta' });
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('invalid_grant');
    expect((await h.server.store.countRows()).sessions).toBe(before.sessions);
  });

  test('When alpha’s refresh token is sent with beta’s API key, then it answers exactly as an unknown token, and keeps working for alpha', async () => {
    const grant = await signIn(h, { tenant: 'alpha' });
    const foreign = await refresh(h, grant.refresh_token, { apiKey: OTHER_API_KEY });
    const unknown = await refresh(h, 'rt_this_token_was_never_issued_by_anyone_0000', { apiKey: OTHER_API_KEY });
    expect(foreign.status).toBe(401);
    const [a, b] = [(await foreign.json()) as Record<string, unknown>, (await unknown.json()) as Record<string, unknown>];
    expect(a.code).toBe('invalid_refresh_token');
    expect({ ...a, request_id: null }).toEqual({ ...b, request_id: null });
    expect((await refresh(h, grant.refresh_token, { apiKey: API_KEY })).status).toBe(200);
  });

  test('When beta’s key comes with alpha’s token, then nothing in the answer says that the token exists', async () => {
    const grant = await signIn(h);
    const foreign = (await (await refresh(h, grant.refresh_token, { apiKey: OTHER_API_KEY })).json()) as Record<string, unknown>;
    const unknown = (await (await refresh(h, `rt_${'x'.repeat(43)}`, { apiKey: OTHER_API_KEY })).json()) as Record<string, unknown>;
    expect({ ...foreign, request_id: undefined }).toEqual({ ...unknown, request_id: undefined });
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
  });

  test('When beta’s refresh token is sent with alpha’s API key, then 401 invalid_refresh_token, and beta’s session is untouched', async () => {
    const grant = await signIn(h, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
    const response = await refresh(h, grant.refresh_token, { apiKey: API_KEY });
    expect(await problemCode(response)).toBe('invalid_refresh_token');
    expect((await refresh(h, grant.refresh_token, { apiKey: OTHER_API_KEY })).status).toBe(200);
  });

  test('When the same person signs in to both tenants, then they are two users, and neither sees nor revokes the other’s sessions', async () => {
    const alpha = await signIn(h, { tenant: 'alpha', username: 'grace' });
    const beta = await signIn(h, { tenant: 'beta', username: 'grace', redirectUri: OTHER_REDIRECT_URI });
    expect(alpha.user.id).not.toBe(beta.user.id);
    const asAlpha = apiClient(h, { accessToken: alpha.access_token });
    const { data: list } = await asAlpha.listSessions({});
    expect(list.data.map((s) => s.id)).not.toContain(beta.session.id);
    expect(await failure(asAlpha.revokeSession({ path: { session_id: beta.session.id } }))).toMatchObject({ status: 404, code: 'not_found' });
  });

  test('When one browser holds sessions of two tenants, then each tenant has its own refresh cookie and neither overwrites the other', async () => {
    const alpha = await loginThroughProvider(h, { tenant: 'alpha' });
    const beta = await loginThroughProvider(h, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
    const alphaCookie = (await postSession(h, { code: alpha.code, state: alpha.state, code_verifier: alpha.verifier }, { tenant: 'alpha' })).headers.get('set-cookie')!;
    const betaCookie = (await postSession(h, { code: beta.code, state: beta.state, code_verifier: beta.verifier }, { tenant: 'beta' })).headers.get('set-cookie')!;
    expect(alphaCookie).toMatch(/^__Host-aimable_refresh_alpha=/);
    expect(betaCookie).toMatch(/^__Host-aimable_refresh_beta=/);
    const jar = [alphaCookie, betaCookie].map((c) => c.split(';')[0]).join('; ');
    const refreshAlpha = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': API_KEY, Cookie: jar } });
    const refreshBeta = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': OTHER_API_KEY, Cookie: jar } });
    expect(refreshAlpha.status).toBe(200);
    expect(refreshBeta.status).toBe(200);
    expect(refreshAlpha.headers.get('set-cookie')).toMatch(/^__Host-aimable_refresh_alpha=/);
  });

  test('When beta’s redirect URI is used to start a login for alpha, then 400 redirect_uri_not_allowed', async () => {
    const refused = await failure(apiClient(h, { tenant: 'alpha' }).startOidcLogin({ path: { provider: 'dev' }, query: { frontend_redirect_uri: OTHER_REDIRECT_URI } }));
    expect(refused).toMatchObject({ status: 400, code: 'redirect_uri_not_allowed' });
  });

  test('When alpha starts a login with beta’s provider, then 404 unknown_provider', async () => {
    const refused = await failure(apiClient(h, { tenant: 'alpha' }).startOidcLogin({ path: { provider: 'other' }, query: { frontend_redirect_uri: REDIRECT_URI } }));
    expect(refused).toMatchObject({ status: 404, code: 'unknown_provider', message: "The tenant has no provider 'other'." });
  });

  test('When a tenant does not exist, then 400 unknown_tenant', async () => {
    const refused = await failure(apiClient(h, { tenant: 'gamma' }).listProviders({}));
    expect(refused).toMatchObject({ status: 400, code: 'unknown_tenant', message: "No tenant has the id 'gamma'." });
  });

  test('When two tenants use the same Idempotency-Key, then their records do not collide', async () => {
    const alpha = await loginThroughProvider(h, { tenant: 'alpha' });
    const beta = await loginThroughProvider(h, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
    const a = await postSession(h, { code: alpha.code, state: alpha.state, code_verifier: alpha.verifier }, { tenant: 'alpha', key: 'shared-key' });
    const b = await postSession(h, { code: beta.code, state: beta.state, code_verifier: beta.verifier }, { tenant: 'beta', key: 'shared-key' });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
  });

  test('When CORS is asked for, then an answer is readable only by origins of the tenant it speaks for', async () => {
    const own = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: 'http://localhost:5173' } });
    expect(own.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(own.headers.get('access-control-allow-credentials')).toBe('true');
    const foreign = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: 'https://beta.example.com' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const stranger = await fetch(`${h.url}/v1/refresh`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('When beta’s origin sends a credentialed refresh with alpha’s API key, then the grant is not readable there', async () => {
    const grant = await signIn(h, { tenant: 'alpha' });
    const preflight = await fetch(`${h.url}/v1/refresh`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://beta.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key' },
    });
    expect(preflight.status).toBe(204);
    // Even naming beta in the header, the API key speaks for alpha: beta's origin may not read the answer.
    const response = await fetch(`${h.url}/v1/refresh`, {
      method: 'POST',
      headers: { Origin: 'https://beta.example.com', 'X-Tenant-Id': 'beta', 'X-API-Key': API_KEY, Cookie: refreshCookie(grant.refresh_token) },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const fromAlpha = await fetch(`${h.url}/v1/auth/session`, { headers: { Origin: 'https://beta.example.com', Authorization: `Bearer ${grant.access_token}` } });
    expect(fromAlpha.headers.get('access-control-allow-origin')).toBeNull();
    const own = await fetch(`${h.url}/v1/auth/session`, { headers: { Origin: 'http://localhost:5173', Authorization: `Bearer ${grant.access_token}` } });
    expect(own.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });
});
