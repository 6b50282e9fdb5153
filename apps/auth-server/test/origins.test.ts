import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loginThroughProvider, ManualClock, problemCode, refresh, refreshCookie, signIn, startHarness, type Harness } from './support/harness.js';
import { ALPHA_ORIGIN, API_KEY, BETA_ORIGIN } from './support/tenants.js';

const clock = new ManualClock();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

describe('an origin that a tenant does not allow cannot act for it', () => {
  test('When beta’s page posts a refresh with alpha’s key and cookie, then 403 origin_not_allowed, nothing is rotated, no cookie is set', async () => {
    const grant = await signIn(h);
    const response = await fetch(`${h.url}/v1/refresh`, {
      method: 'POST',
      headers: { Origin: BETA_ORIGIN, 'X-API-Key': API_KEY, Cookie: refreshCookie(grant.refresh_token) },
    });
    expect(response.status).toBe(403);
    expect(await problemCode(response)).toBe('origin_not_allowed');
    expect(response.headers.get('set-cookie')).toBeNull();
    // The token was not touched: alpha's own page rotates it now, rather than getting a grace replay.
    const own = await fetch(`${h.url}/v1/refresh`, {
      method: 'POST',
      headers: { Origin: ALPHA_ORIGIN, 'X-API-Key': API_KEY, Cookie: refreshCookie(grant.refresh_token) },
    });
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBe(ALPHA_ORIGIN);
    clock.advance(11_000);
    expect(await problemCode(await refresh(h, grant.refresh_token))).toBe('refresh_token_reused');
  });

  test('When beta’s page posts alpha’s login result, then 403 and the state stays for alpha’s page', async () => {
    const login = await loginThroughProvider(h);
    const body = JSON.stringify({ code: login.code, state: login.state, code_verifier: login.verifier });
    const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() };
    const before = await h.server.store.countRows();
    const foreign = await fetch(`${h.url}/v1/auth/oidc/session`, { method: 'POST', headers: { ...headers, Origin: BETA_ORIGIN }, body });
    expect(foreign.status).toBe(403);
    expect(await problemCode(foreign)).toBe('origin_not_allowed');
    expect(foreign.headers.get('set-cookie')).toBeNull();
    expect(await h.server.store.countRows()).toEqual(before);
    const own = await fetch(`${h.url}/v1/auth/oidc/session`, { method: 'POST', headers: { ...headers, Origin: ALPHA_ORIGIN, 'Idempotency-Key': crypto.randomUUID() }, body });
    expect(own.status).toBe(201);
  });

  test('When beta’s page sends logout or revoke with alpha’s token, then 403 and the session lives on', async () => {
    const grant = await signIn(h);
    const auth = { Authorization: `Bearer ${grant.access_token}` };
    const logout = await fetch(`${h.url}/v1/auth/logout`, { method: 'POST', headers: { ...auth, Origin: BETA_ORIGIN } });
    expect(logout.status).toBe(403);
    expect(logout.headers.get('set-cookie')).toBeNull();
    const revoke = await fetch(`${h.url}/v1/auth/sessions/${grant.session.id}`, { method: 'DELETE', headers: { ...auth, Origin: BETA_ORIGIN } });
    expect(revoke.status).toBe(403);
    expect((await fetch(`${h.url}/v1/auth/session`, { headers: auth })).status).toBe(200);
  });

  test('When the origin is opaque (null) or unknown, then unsafe requests are refused; without Origin (not a browser), they run', async () => {
    for (const origin of ['null', 'https://evil.example']) {
      const response = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { Origin: origin, 'X-API-Key': API_KEY } });
      expect(response.status).toBe(403);
    }
    expect(await problemCode(await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': API_KEY } }))).toBe('invalid_refresh_token');
  });

  test('When answers depend on Origin, then they say Vary: Origin; a preflight is allowed for tenants’ origins only', async () => {
    const answer = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: ALPHA_ORIGIN } });
    expect(answer.headers.get('vary')).toMatch(/\bOrigin\b/);
    const foreign = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: BETA_ORIGIN } });
    expect(foreign.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = (origin: string) =>
      fetch(`${h.url}/v1/refresh`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key' } });
    expect((await preflight(BETA_ORIGIN)).headers.get('access-control-allow-origin')).toBe(BETA_ORIGIN);
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS and the origin check, precisely', () => {
  test('When a preflight comes from a tenant’s origin, then it allows the headers the API reads, and answers expose those a client needs', async () => {
    const preflight = await fetch(`${h.url}/v1/refresh`, {
      method: 'OPTIONS',
      headers: { Origin: ALPHA_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key, idempotency-key' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id, X-Tenant-Id');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');
    const noOrigin = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha' } });
    expect(noOrigin.headers.get('access-control-allow-origin')).toBeNull();
    expect(noOrigin.headers.get('access-control-allow-credentials')).toBeNull();
    const answer = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: ALPHA_ORIGIN } });
    expect(answer.headers.get('access-control-expose-headers')).toBe('X-Request-Id, Idempotent-Replayed, Retry-After, WWW-Authenticate');
  });

  test('When a request is not a preflight (no Access-Control-Request-Method, or not OPTIONS), then it is not answered as one', async () => {
    const options = await fetch(`${h.url}/healthz`, { method: 'OPTIONS', headers: { Origin: ALPHA_ORIGIN } });
    expect(options.status).toBe(405);
    const post = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { Origin: ALPHA_ORIGIN, 'Access-Control-Request-Method': 'POST', 'X-API-Key': API_KEY } });
    expect(post.status).toBe(401);
    expect(await problemCode(post)).toBe('invalid_refresh_token');
  });

  test('When a foreign origin sends DELETE, then it is refused like POST; PUT and PATCH no route takes; when it reads, the read runs but its answer is not shared', async () => {
    const grant = await signIn(h);
    const revoke = await fetch(`${h.url}/v1/auth/sessions/${grant.session.id}`, {
      method: 'DELETE',
      headers: { Origin: 'https://evil.example', Authorization: `Bearer ${grant.access_token}` },
    });
    expect(revoke.status).toBe(403);
    expect(await revoke.json()).toMatchObject({ code: 'origin_not_allowed', detail: 'The origin https://evil.example is not allowed for this tenant.' });
    expect((await h.server.store.findSession('alpha', grant.session.id))?.revokedAt).toBeNull();
    for (const method of ['PUT', 'PATCH']) {
      const response = await fetch(`${h.url}/v1/refresh`, { method, headers: { Origin: 'https://evil.example', 'X-API-Key': API_KEY } });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
    const read = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: BETA_ORIGIN } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
  });
});
