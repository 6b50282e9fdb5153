import { CookieJar, signOutAt } from '@aimable/dev-idp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughFake, postSession, problemCode, refresh, signIn, startHarness, startUrl, type Harness } from './support/harness.js';
import { POST_LOGOUT_REDIRECT_URI, tenantsWith } from './support/tenants.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.close());

function logout(accessToken: string, body?: unknown): Promise<Response> {
  return fetch(`${h.url}/v1/auth/logout`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${accessToken}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Start → dev-idp's authorize with the browser's cookies: whether the provider shows its login form, or signs straight in. */
async function providerAsksForLogin(cookies: CookieJar): Promise<boolean> {
  const started = await fetch(startUrl(h).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
  let url = new URL(started.headers.get('location')!);
  for (let step = 0; step < 10; step += 1) {
    const cookie = cookies.headerFor(url);
    const response = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
    cookies.store(url, response.headers.getSetCookie());
    const body = await response.text();
    if (response.status === 200 && body.includes('name="password"')) return true;
    const location = response.headers.get('location');
    if (location === null) throw new Error(`dev-idp answered ${response.status} at ${url.pathname}`);
    url = new URL(location, url);
    if (url.origin === h.url) return false;
  }
  throw new Error('no login form and no way back to the server');
}

describe('logout at the provider (RP-Initiated Logout)', () => {
  test('When a user logs out with provider true, then the answer is the end-session URL with the ID token hint, client id and the allowed post-logout URI', async () => {
    const grant = await signIn(h);
    const response = await logout(grant.access_token, { provider: true, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { provider_logout_url } = (await response.json()) as { provider_logout_url: string };
    const url = new URL(provider_logout_url);
    expect(`${url.origin}${url.pathname}`).toBe(`${h.idp!.issuer}/session/end`);
    expect(url.searchParams.get('client_id')).toBe('aimable-test');
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(POST_LOGOUT_REDIRECT_URI);
    const hint = JSON.parse(Buffer.from(url.searchParams.get('id_token_hint')!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    // The ID token of this session's login, with the provider session id its back-channel logout names.
    expect(hint).toMatchObject({ iss: h.idp!.issuer, aud: 'aimable-test', sid: expect.any(String) });
    expect((await h.server.store.findSession('alpha', grant.session.id))?.providerSid).toBe(hint.sid);
    // The session here ended with it.
    expect(await problemCode(await refresh(h, grant.refresh_token))).toBe('invalid_refresh_token');
    // The ID token went to its owner only: never to the log.
    expect(h.logs.join('\n')).not.toContain(url.searchParams.get('id_token_hint')!);
  });

  test('When the post-logout URI is not on the tenant’s allowlist, then 400 redirect_uri_not_allowed and the session lives on', async () => {
    const grant = await signIn(h);
    for (const uri of ['https://evil.example/', 'http://localhost:5173', 'http://localhost:5173/auth/callback', 'http://localhost:5173/?next=x']) {
      const response = await logout(grant.access_token, { provider: true, post_logout_redirect_uri: uri });
      expect(response.status).toBe(400);
      expect(await problemCode(response)).toBe('redirect_uri_not_allowed');
    }
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
  });

  test('When a user logs out without a body or with provider false, then 204 as before, and no URL', async () => {
    const first = await signIn(h);
    const plain = await logout(first.access_token);
    expect(plain.status).toBe(204);
    const second = await signIn(h);
    const local = await logout(second.access_token, { provider: false });
    expect(local.status).toBe(204);
    expect(await local.text()).toBe('');
  });

  test('When the browser follows the end-session URL and confirms, then the provider session is over: the next sign-in asks for the password again', async () => {
    const browser = new CookieJar();
    const grant = await signIn(h, { cookies: browser });
    // While the provider's session lives, a new login goes straight through.
    expect(await providerAsksForLogin(browser)).toBe(false);
    const response = await logout(grant.access_token, { provider: true, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI });
    const { provider_logout_url } = (await response.json()) as { provider_logout_url: string };
    const landed = await signOutAt(provider_logout_url, { cookies: browser });
    expect(landed.href).toBe(POST_LOGOUT_REDIRECT_URI);
    expect(await providerAsksForLogin(browser)).toBe(true);
  });

  test('When a session ended, then its ID token is no longer kept', async () => {
    const grant = await signIn(h);
    expect(await h.server.store.findSessionIdToken('alpha', grant.session.id)).toMatch(/^v2\./);
    await logout(grant.access_token);
    expect(await h.server.store.findSessionIdToken('alpha', grant.session.id)).toBeUndefined();
  });

  test('When the ID token is stored, then it is sealed: the database holds no readable token', async () => {
    const grant = await signIn(h);
    const sealed = (await h.server.store.findSessionIdToken('alpha', grant.session.id))!;
    expect(sealed).not.toMatch(/eyJ/);
    const response = await logout(grant.access_token, { provider: true });
    const { provider_logout_url } = (await response.json()) as { provider_logout_url: string };
    expect(new URL(provider_logout_url).searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect(new URL(provider_logout_url).searchParams.has('post_logout_redirect_uri')).toBe(false);
  });
});

describe('a tenant’s own post-logout URIs', () => {
  test('When the tenant lists its post-logout URIs, then those are the ones accepted, and the default is not', async () => {
    const custom = await startHarness({ tenants: tenantsWith({ alpha: { post_logout_redirect_uris: ['http://localhost:5173/signed-out'] } }) });
    try {
      const grant = await signIn(custom);
      const send = (uri: string) =>
        fetch(`${custom.url}/v1/auth/logout`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${grant.access_token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ provider: true, post_logout_redirect_uri: uri }),
        });
      expect(await problemCode(await send(POST_LOGOUT_REDIRECT_URI))).toBe('redirect_uri_not_allowed');
      const accepted = await send('http://localhost:5173/signed-out');
      expect(accepted.status).toBe(200);
    } finally {
      await custom.close();
    }
  });
});

describe('logout at a provider without an end-session endpoint', () => {
  test('When the provider announces no end_session_endpoint, then no ID token is kept, and the logout answers a null URL and ends the session', async () => {
    const fake = await FakeProvider.start();
    const withFake = await startHarness({ issuer: fake.issuer });
    try {
      const login = await loginThroughFake(withFake, fake);
      const created = await postSession(withFake, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' });
      const grant = (await created.json()) as { access_token: string; refresh_token: string; session: { id: string } };
      expect(await withFake.server.store.findSessionIdToken('alpha', grant.session.id)).toBeUndefined();
      const response = await fetch(`${withFake.url}/v1/auth/logout`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${grant.access_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ provider: true }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ provider_logout_url: null });
      expect(await problemCode(await refresh(withFake, grant.refresh_token))).toBe('invalid_refresh_token');
    } finally {
      await withFake.close();
      await fake.close();
    }
  });
});
