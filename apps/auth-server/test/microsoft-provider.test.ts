import { ENTRA_DIRECTORIES, ENTRA_FORGERIES, startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, postSession, problemCode, startHarness, startUrl, type Harness } from './support/harness.js';
import { CLIENT_SECRET, tenantsWith } from './support/tenants.js';

const CLIENT_ID = '3c1d0b5e-aimable-test';
/** The fake's registration: the redirect URIs are the harness's, known once it listens. */
const redirectUris: string[] = [];
let idp: RunningDevIdp;
let h: Harness;

beforeAll(async () => {
  idp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'unused', client_secret: 'unused', redirect_uris: ['http://localhost/unused'] }],
    fakes: { entra: { clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: redirectUris }] } },
  });
  const microsoft = (directory: string, allowed?: string[]) => ({
    type: 'microsoft' as const,
    display_name: 'Microsoft',
    client_id: CLIENT_ID,
    client_secret_env: 'TEST_CLIENT_SECRET',
    directory,
    ...(allowed ? { allowed_directories: allowed } : {}),
    authority: `${idp.issuer}/entra`,
    allow_insecure_http: true,
  });
  h = await startHarness({
    issuer: idp.issuer,
    tenants: tenantsWith({
      alpha: {
        providers: {
          microsoft: microsoft('organizations', [ENTRA_DIRECTORIES.contoso]),
          anyorg: microsoft('common'),
          fabrikam: microsoft(ENTRA_DIRECTORIES.fabrikam),
          // The same server under another name: its discovery document names an issuer of another authority.
          misnamed: { ...microsoft('organizations'), authority: `${idp.issuer.replace('localhost', '127.0.0.1')}/entra` },
        },
      },
    }),
  });
  redirectUris.push(...['microsoft', 'anyorg', 'fabrikam'].map((provider) => `${h.url}/v1/auth/oidc/${provider}/callback`));
});
afterAll(async () => {
  await h?.close();
  await idp?.close();
});

/** Start → the fake's sign-in page → the account's button → callback → `POST /v1/auth/oidc/session`. */
async function signInWithMicrosoft(provider: string, username: string): Promise<Response> {
  const { url, verifier } = startUrl(h, { provider });
  const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
  expect(started.status).toBe(302);
  const authorize = started.headers.get('location')!;
  const page = await fetch(authorize);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain(`value="${username}"`);
  const chosen = await fetch(authorize, { method: 'POST', body: new URLSearchParams({ username }), redirect: 'manual' });
  expect(chosen.status).toBe(302);
  const callback = await fetch(chosen.headers.get('location')!, { redirect: 'manual' });
  expect(callback.status).toBe(302);
  const back = new URL(callback.headers.get('location')!);
  expect(back.searchParams.get('error')).toBeNull();
  return postSession(h, { code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: verifier, refresh_token_delivery: 'body' });
}

async function expectRefused(response: Response, rowsBefore: { users: number; sessions: number }): Promise<void> {
  expect(response.status).toBe(401);
  expect(await problemCode(response)).toBe('invalid_grant');
  const rows = await h.server.store.countRows();
  expect({ users: rows.users, sessions: rows.sessions }).toEqual(rowsBefore);
}

async function userAndSessionRows(): Promise<{ users: number; sessions: number }> {
  const { users, sessions } = await h.server.store.countRows();
  return { users, sessions };
}

describe('Sign in with Microsoft (Entra ID), through a local fake of it', () => {
  test('When a user of an allowed directory signs in through a multi-tenant provider, then a session is made, and the email Entra does not verify is not verified', async () => {
    const response = await signInWithMicrosoft('microsoft', 'ada');
    expect(response.status).toBe(201);
    const grant = (await response.json()) as { access_token: string; user: { email: string; email_verified: boolean; name: string } };
    expect(grant.user).toMatchObject({ email: 'ada@example.com', email_verified: false, name: 'Ada Lovelace' });
    const current = await apiClient(h, { accessToken: grant.access_token }).getCurrentSession({});
    expect(current.data).toMatchObject({ user: { email: 'ada@example.com' } });
  });

  test('When the same person signs in again, then they are the same user', async () => {
    const first = (await (await signInWithMicrosoft('microsoft', 'alan')).json()) as { user: { id: string } };
    const second = (await (await signInWithMicrosoft('microsoft', 'alan')).json()) as { user: { id: string } };
    expect(second.user.id).toBe(first.user.id);
  });

  test('When a user of a directory that is not allowed signs in, then the login is refused with invalid_grant and nothing is stored', async () => {
    const before = await userAndSessionRows();
    await expectRefused(await signInWithMicrosoft('microsoft', 'grace'), before);
  });

  test("When no directories are listed, then a user of any directory may sign in, and an address whose domain the directory owns (xms_edov) is verified", async () => {
    const response = await signInWithMicrosoft('anyorg', 'grace');
    expect(response.status).toBe(201);
    const grant = (await response.json()) as { user: { email: string; email_verified: boolean } };
    expect(grant.user).toMatchObject({ email: 'grace@example.com', email_verified: true });
  });

  test('When an ID token names one directory in tid and another in iss, then the login is refused, whatever the directory setting', async () => {
    const before = await userAndSessionRows();
    await expectRefused(await signInWithMicrosoft('anyorg', ENTRA_FORGERIES.directoryMismatch), before);
    // Its `iss` is exactly Fabrikam's issuer: only the tid check stands between it and a session.
    await expectRefused(await signInWithMicrosoft('fabrikam', ENTRA_FORGERIES.directoryMismatch), before);
  });

  test('When an ID token is signed with a key the directory does not publish, then the login is refused', async () => {
    const before = await userAndSessionRows();
    await expectRefused(await signInWithMicrosoft('microsoft', ENTRA_FORGERIES.unknownKey), before);
  });

  test("When a directory's discovery document names an issuer of another authority, then no login starts", async () => {
    const { url } = startUrl(h, { provider: 'misnamed' });
    const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    expect(started.status).toBe(502);
    expect(await problemCode(started)).toBe('provider_unavailable');
  });

  test('When a callback carries an iss, which Entra ID never sends, then the login goes back to the frontend as invalid_request, without a code', async () => {
    const { url } = startUrl(h, { provider: 'microsoft' });
    const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    const chosen = await fetch(started.headers.get('location')!, { method: 'POST', body: new URLSearchParams({ username: 'ada' }), redirect: 'manual' });
    const callback = new URL(chosen.headers.get('location')!);
    callback.searchParams.set('iss', `${idp.issuer}/entra/${ENTRA_DIRECTORIES.contoso}/v2.0`);
    const back = new URL((await fetch(callback, { redirect: 'manual' })).headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
  });

  test("When a provider is set to one directory, then that directory's users sign in and another directory's are refused", async () => {
    expect((await signInWithMicrosoft('fabrikam', 'grace')).status).toBe(201);
    const before = await userAndSessionRows();
    await expectRefused(await signInWithMicrosoft('fabrikam', 'ada'), before);
  });

  test("When the users of two directories sign in, then each is a user of their own directory's issuer, and no secret reaches the logs", async () => {
    const fromAnyOrg = (await (await signInWithMicrosoft('anyorg', 'grace')).json()) as { user: { id: string } };
    const fromFabrikam = (await (await signInWithMicrosoft('fabrikam', 'grace')).json()) as { user: { id: string } };
    // One directory, one issuer: the provider entry used to get there does not split the person in two.
    expect(fromFabrikam.user.id).toBe(fromAnyOrg.user.id);
    expect(h.logs.join('')).not.toContain(CLIENT_SECRET);
  });
});
