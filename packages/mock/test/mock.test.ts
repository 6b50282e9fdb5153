import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMock, type RunningMock } from '../src/index.js';

let mock: RunningMock;

beforeAll(async () => {
  mock = await startMock({ port: 0 });
}, 60_000);

afterAll(() => mock?.close());

const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const start = `/v1/auth/oidc/google/start?frontend_redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fauth%2Fcallback&code_challenge=${challenge}&code_challenge_method=S256`;
const tenant = { 'X-Tenant-Id': 'demo' };
/** A token of a JWT's shape, as the mock accepts. */
const ACCESS_TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3IifQ.c2ln';

describe('the mock', () => {
  test('When a browser navigates to start, then it is redirected to the provider', async () => {
    const response = await fetch(`${mock.url}${start}`, {
      headers: { ...tenant, Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')!.startsWith(`${mock.url}/`)).toBe(true);
    expect(new URL(response.headers.get('location')!).searchParams.get('state')).toBeTruthy();
  });

  test('When a plain request without Accept reaches start, then it is redirected too', async () => {
    const response = await fetch(`${mock.url}${start}`, { headers: tenant, redirect: 'manual' });
    expect(response.status).toBe(302);
  });

  test('When start is asked for JSON, then it answers 200 with the authorization URL', async () => {
    const response = await fetch(`${mock.url}${start}`, { headers: { ...tenant, Accept: 'application/json' }, redirect: 'manual' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { authorization_url: string; state: string };
    expect(body.state).toBeTruthy();
    // The mock plays the provider: its authorization URL leads back to the mock, not to a real provider.
    expect(body.authorization_url.startsWith(`${mock.url}/v1/auth/oidc/google/callback?`)).toBe(true);
    const callback = await fetch(body.authorization_url, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toMatch(/^http:\/\/localhost:5173\/auth\/callback\?code=/);
  });

  test('When a login starts for some frontend, then the mock provider and callback bring the browser back to that frontend', async () => {
    const frontend = 'http://localhost:9999/signed-in';
    const response = await fetch(`${mock.url}/v1/auth/oidc/google/start?frontend_redirect_uri=${encodeURIComponent(frontend)}&code_challenge=${challenge}&code_challenge_method=S256`, { headers: { ...tenant, Accept: 'application/json' } });
    const { authorization_url: authorizationUrl, state } = (await response.json()) as { authorization_url: string; state: string };
    const callback = await fetch(authorizationUrl, { redirect: 'manual' });
    const back = new URL(callback.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(frontend);
    expect(back.searchParams.get('state')).toBe(state);
  });

  test('When a logout asks to sign out at the provider, then it answers the end-session URL; without, 204 as the server does', async () => {
    const headers = { Authorization: 'Bearer eyJ.a.b', 'Content-Type': 'application/json' };
    const plain = await fetch(`${mock.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: 'Bearer eyJ.a.b' } });
    expect(plain.status).toBe(204);
    const local = await fetch(`${mock.url}/v1/auth/logout`, { method: 'POST', headers, body: JSON.stringify({ provider: false }) });
    expect(local.status).toBe(204);
    const everywhere = await fetch(`${mock.url}/v1/auth/logout`, { method: 'POST', headers, body: JSON.stringify({ provider: true }) });
    expect(everywhere.status).toBe(200);
    expect(((await everywhere.json()) as { provider_logout_url: string }).provider_logout_url).toMatch(/id_token_hint=/);
  });

  test('When a provider posts a back-channel logout form, then the mock takes the form; JSON there is refused', async () => {
    const target = `${mock.url}/v1/auth/oidc/google/backchannel-logout?tenant=demo`;
    const form = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: 'eyJ.a.b' }) });
    expect(form.status).toBe(200);
    const json = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logout_token: 'eyJ.a.b' }) });
    expect(json.status).toBeGreaterThanOrEqual(400);
    expect(json.status).toBeLessThan(500);
  });

  test('When a refresh carries no refresh token, then the mock refuses it as the server does; with one, it answers a grant', async () => {
    const headers = { 'X-API-Key': 'ak_mock_demo', 'Content-Type': 'application/json' };
    const without = await fetch(`${mock.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_mock_demo' } });
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toMatch(/^ApiKey/);
    expect(((await without.json()) as { code: string }).code).toBe('invalid_refresh_token');
    const withBody = await fetch(`${mock.url}/v1/refresh`, { method: 'POST', headers, body: JSON.stringify({ refresh_token: 'rt_x' }) });
    expect(withBody.status).toBe(200);
    // Asked in the body, the grant comes with its refresh token in the body.
    expect(((await withBody.json()) as { refresh_token?: string }).refresh_token).toMatch(/^rt_/);
    const withCookie = await fetch(`${mock.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_mock_demo', Cookie: '__Host-aimable_refresh_demo=rt_x' } });
    expect(withCookie.status).toBe(200);
  });

  test('When a path cannot be decoded or a body is not JSON, too large or of another type, then the mock refuses it as the server does, and keeps serving', async () => {
    const json = { 'X-Tenant-Id': 'demo', 'Idempotency-Key': 'k', 'Content-Type': 'application/json' };
    const cases: [string, RequestInit, number, string][] = [
      ['/v1/auth/sessions/%zz', { method: 'DELETE', headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } }, 400, 'invalid_request'],
      ['/v1/auth/oidc/session', { method: 'POST', headers: json, body: '{"a":' }, 400, 'invalid_request'],
      ['/v1/auth/oidc/session', { method: 'POST', headers: json, body: JSON.stringify({ padding: 'x'.repeat(20_000) }) }, 413, 'payload_too_large'],
      ['/v1/auth/oidc/session', { method: 'POST', headers: { ...json, 'Content-Type': 'text/plain' }, body: '{}' }, 415, 'unsupported_media_type'],
    ];
    for (const [path, init, status, code] of cases) {
      const response = await fetch(`${mock.url}${path}`, init);
      expect(response.status, path).toBe(status);
      expect(((await response.json()) as { code: string }).code).toBe(code);
    }
    expect((await fetch(`${mock.url}/healthz`)).status).toBe(200);
  });

  test('When a path or method is outside the contract, then the mock answers the contract’s 404 and 405 (with Allow)', async () => {
    const missing = await fetch(`${mock.url}/v1/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ status: 404, code: 'not_found' });
    const wrongMethod = await fetch(`${mock.url}/healthz`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    expect(await wrongMethod.json()).toMatchObject({ status: 405, code: 'method_not_allowed' });
    // An OPTIONS that is no CORS preflight is a method like any other; a preflight is answered for the browser.
    expect((await fetch(`${mock.url}/healthz`, { method: 'OPTIONS' })).status).toBe(405);
    const preflight = await fetch(`${mock.url}/v1/refresh`, { method: 'OPTIONS', headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBeTruthy();
  });

  test('When a link names the tenant in the query and sends no headers, then it is redirected to the provider', async () => {
    const response = await fetch(`${mock.url}/v1/auth/oidc/google/start?tenant=demo&frontend_redirect_uri=http://localhost:5173/auth/callback&code_challenge=${challenge}&code_challenge_method=S256`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
  });

  test('When the provider redirects back with parameters of its own and unencoded values, then the callback forwards the code', async () => {
    const response = await fetch(
      `${mock.url}/v1/auth/oidc/google/callback?code=4/0AbCdE&state=s&iss=https://accounts.google.com&scope=email+openid&authuser=0&prompt=consent&session_state=x`,
      { redirect: 'manual' },
    );
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  test('When a session is created without X-Tenant-Id, as the state names the tenant, then it answers the grant', async () => {
    const response = await fetch(`${mock.url}/v1/auth/oidc/session`, {
      method: 'POST',
      headers: { 'Idempotency-Key': 'k2', 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: '4/0AbCdE', state: 's', code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' }),
    });
    expect(response.status).toBe(201);
  });

  test('When the caller sends its own Prefer header, then it wins', async () => {
    const response = await fetch(`${mock.url}${start}`, { headers: { ...tenant, Prefer: 'code=404' }, redirect: 'manual' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  test('When the whole login flow runs against the mock, then every step answers a plausible example', async () => {
    const started = await fetch(`${mock.url}${start}`, { headers: tenant, redirect: 'manual' });
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
    const callback = await fetch(`${mock.url}/v1/auth/oidc/google/callback?code=c&state=${state}`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get('location')!);
    expect(back.searchParams.get('code')).toBeTruthy();
    const session = await fetch(`${mock.url}/v1/auth/oidc/session`, {
      method: 'POST',
      headers: { ...tenant, 'Idempotency-Key': 'k1', 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ code: back.searchParams.get('code'), state: back.searchParams.get('state') }),
    });
    expect(session.status).toBe(201);
    expect(session.headers.get('set-cookie')).toMatch(/^__Host-aimable_refresh_demo=.*HttpOnly; Secure/);
    const grant = (await session.json()) as { access_token: string };
    expect(grant.access_token).toBeTruthy();
    const refreshed = await fetch(`${mock.url}/v1/refresh`, {
      method: 'POST',
      headers: { 'X-API-Key': 'ak_mock_demo', Cookie: '__Host-aimable_refresh_demo=rt', Accept: 'application/json' },
    });
    expect(refreshed.status).toBe(200);
  });
});

describe('the mock with dynamic data', () => {
  let dynamic: RunningMock;
  beforeAll(async () => {
    dynamic = await startMock({ port: 0, dynamic: true });
  }, 60_000);
  afterAll(() => dynamic?.close());

  test('When --dynamic is on, then bodies are generated from the schemas', async () => {
    const first = (await (await fetch(`${dynamic.url}/v1/auth/providers`, { headers: tenant })).json()) as { data: unknown[] };
    expect(Array.isArray(first.data)).toBe(true);
    const a = await (await fetch(`${dynamic.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } })).text();
    const b = await (await fetch(`${dynamic.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } })).text();
    expect(a).not.toBe(b);
  });
});
