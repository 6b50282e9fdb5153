import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signIn, startHarness, type Harness } from './support/harness.js';
import { API_KEY, REDIRECT_URI } from './support/tenants.js';

let h: Harness;
let accessToken: string;
beforeAll(async () => {
  h = await startHarness();
  accessToken = (await signIn(h)).access_token;
});
afterAll(() => h?.close());

interface Attempt {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

const tenant = { 'X-Tenant-Id': 'alpha' };
const json = { 'Content-Type': 'application/json' };
const session = { ...tenant, ...json, 'Idempotency-Key': 'bad-input-key' };
const start = `/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}`;

/** Malformed inputs for every operation. `{bearer}` is replaced by a valid access token. */
const attempts: Record<string, Attempt[]> = {
  startOidcLogin: [
    { path: start },
    { path: '/v1/auth/oidc/dev/start', headers: tenant },
    { path: `${start}&code_challenge=short&code_challenge_method=S256`, headers: tenant },
    { path: `${start}&code_challenge_method=S512`, headers: tenant },
    { path: `${start}&unexpected=1`, headers: tenant },
    { path: start, headers: { 'X-Tenant-Id': 'NOT A TENANT' } },
    { path: `/v1/auth/oidc/${'x'.repeat(100)}/start?frontend_redirect_uri=x`, headers: tenant },
    { path: `/v1/auth/oidc/dev/start?frontend_redirect_uri=${'a'.repeat(3000)}`, headers: tenant },
    { path: start, headers: { ...tenant, 'X-Request-Id': 'spaces are not allowed' } },
  ],
  handleOidcCallback: [
    { path: '/v1/auth/oidc/dev/callback' },
    { path: '/v1/auth/oidc/dev/callback?code=c' },
    { path: `/v1/auth/oidc/dev/callback?state=${'s'.repeat(600)}` },
    { path: '/v1/auth/oidc/dev/callback?state=s&state=t' },
    { path: '/v1/auth/oidc/Dev!/callback?state=s' },
    { path: '/v1/auth/oidc/%E0%A4%A/callback?state=s' },
  ],
  createSession: [
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: '{' },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: '[]' },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: 'null' },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: '{}' },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: JSON.stringify({ code: '', state: 's' }) },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: JSON.stringify({ code: 'c', state: 's', extra: 1 }) },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: JSON.stringify({ code: 'c', state: 's', refresh_token_delivery: 'carrier-pigeon' }) },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: session, body: JSON.stringify({ code: 'c'.repeat(20_000), state: 's' }) },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: { ...session, 'Content-Type': 'text/plain' }, body: 'code=c&state=s' },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: { ...json, 'Idempotency-Key': 'k' }, body: JSON.stringify({ code: 'c', state: 's' }) },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: { ...session, 'X-Tenant-Id': 'nobody' }, body: JSON.stringify({ code: 'c', state: 's' }) },
    { method: 'POST', path: '/v1/auth/oidc/session', headers: { ...tenant, ...json }, body: JSON.stringify({ code: 'c', state: 's' }) },
  ],
  refreshSession: [
    { method: 'POST', path: '/v1/refresh' },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, ...json }, body: '{"refresh_token":' },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, ...json }, body: JSON.stringify({ refresh_token: 5 }) },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, ...json }, body: JSON.stringify({ token: 'x' }) },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, ...json }, body: JSON.stringify({ refresh_token: 'x'.repeat(600) }) },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, ...json }, body: JSON.stringify({ refresh_token: 'rt_unknown' }) },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, Cookie: '__Host-aimable_refresh_alpha=%zz' } },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': 'wrong', ...json }, body: JSON.stringify({ refresh_token: 'rt_x' }) },
    { method: 'POST', path: '/v1/refresh', headers: { 'X-API-Key': API_KEY, 'Idempotency-Key': '', ...json }, body: JSON.stringify({ refresh_token: 'rt_x' }) },
  ],
  getCurrentSession: [
    { path: '/v1/auth/session' },
    { path: '/v1/auth/session', headers: { Authorization: 'Bearer not.a.jwt' } },
    { path: '/v1/auth/session', headers: { Authorization: 'Basic dXNlcjpwYXNz' } },
    { path: '/v1/auth/session', headers: { Authorization: 'Bearer {bearer}x' } },
  ],
  logout: [
    { method: 'POST', path: '/v1/auth/logout' },
    { method: 'POST', path: '/v1/auth/logout', headers: { Authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' } },
  ],
  listSessions: [
    { path: '/v1/auth/sessions?limit=0', headers: { Authorization: 'Bearer {bearer}' } },
    { path: '/v1/auth/sessions?limit=abc', headers: { Authorization: 'Bearer {bearer}' } },
    { path: '/v1/auth/sessions?limit=101', headers: { Authorization: 'Bearer {bearer}' } },
    { path: '/v1/auth/sessions?cursor=', headers: { Authorization: 'Bearer {bearer}' } },
    { path: '/v1/auth/sessions?cursor=bm90LWpzb24', headers: { Authorization: 'Bearer {bearer}' } },
    { path: `/v1/auth/sessions?cursor=${Buffer.from('[1e400,"ses_x"]').toString('base64url')}`, headers: { Authorization: 'Bearer {bearer}' } },
    { path: '/v1/auth/sessions' },
  ],
  revokeSession: [
    { method: 'DELETE', path: '/v1/auth/sessions/not-a-session-id', headers: { Authorization: 'Bearer {bearer}' } },
    { method: 'DELETE', path: '/v1/auth/sessions/ses_doesnotexist', headers: { Authorization: 'Bearer {bearer}' } },
    { method: 'DELETE', path: '/v1/auth/sessions/ses_x' },
    { method: 'DELETE', path: '/v1/auth/sessions/%zz', headers: { Authorization: 'Bearer {bearer}' } },
  ],
  listProviders: [
    { path: '/v1/auth/providers' },
    { path: '/v1/auth/providers', headers: { 'X-Tenant-Id': '' } },
    { path: '/v1/auth/providers', headers: { 'X-Tenant-Id': 'unknown' } },
  ],
  getJwks: [{ method: 'POST', path: '/.well-known/jwks.json' }],
  getHealth: [{ method: 'DELETE', path: '/healthz' }],
  getReadiness: [{ method: 'PUT', path: '/readyz' }],
};

describe('bad input', () => {
  test.each(Object.entries(attempts))('When %s gets malformed input, then every answer is a 4xx problem and no row is written', async (_operation, cases) => {
    for (const attempt of cases) {
      const before = await h.server.store.countRows();
      const headers = Object.fromEntries(Object.entries(attempt.headers ?? {}).map(([k, v]) => [k, v.replace('{bearer}', accessToken)]));
      const response = await fetch(`${h.url}${attempt.path}`, { method: attempt.method ?? 'GET', headers, body: attempt.body, redirect: 'manual' });
      const label = `${attempt.method ?? 'GET'} ${attempt.path.slice(0, 80)} ${JSON.stringify(attempt.headers ?? {}).slice(0, 80)}`;
      expect(response.status, label).toBeGreaterThanOrEqual(400);
      expect(response.status, label).toBeLessThan(500);
      expect(response.headers.get('content-type'), label).toMatch(/^application\/problem\+json/);
      const problem = (await response.json()) as { code: string; status: number; request_id: string };
      expect(problem.status, label).toBe(response.status);
      expect(problem.request_id, label).toBe(response.headers.get('x-request-id'));
      const after = await h.server.store.countRows();
      expect(after, label).toEqual(before);
    }
  });
});

describe('probes', () => {
  test('When a probe is asked with HEAD, then it answers as GET without the body, and a method a path does not take lists GET and HEAD in Allow', async () => {
    for (const path of ['/healthz', '/readyz', '/.well-known/jwks.json']) {
      const response = await fetch(`${h.url}${path}`, { method: 'HEAD' });
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toBe('');
    }
    const refused = await fetch(`${h.url}/healthz`, { method: 'DELETE' });
    expect(refused.status).toBe(405);
    expect(refused.headers.get('allow')).toBe('GET, HEAD');
    const noTenant = await fetch(`${h.url}/v1/auth/providers`, { method: 'HEAD' });
    expect(noTenant.status).toBe(400);
    // A HEAD is validated as the GET it stands for: a callback without its state is refused, not run.
    const noState = await fetch(`${h.url}/v1/auth/oidc/dev/callback?error=access_denied`, { method: 'HEAD' });
    expect(noState.status).toBe(400);
  });

  test('When a probe or the key set is asked with query parameters, then they are ignored and it answers as without them', async () => {
    for (const path of ['/healthz?x=1', '/readyz?v=2&probe', '/.well-known/jwks.json?v=2']) {
      const response = await fetch(`${h.url}${path}`);
      expect(response.status, path).toBe(200);
    }
  });
});
