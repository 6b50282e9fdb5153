import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { postSession, problemCode, startUrl } from './support/harness.js';
import { accountOf, loginThroughGithub, startGithubHarness, type GithubHarness } from './support/github.js';
import { CLIENT_SECRET } from './support/tenants.js';

interface SessionUser {
  id: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  picture: string | null;
}

const PROVIDER_TIMEOUT_SECONDS = 2;

let h: GithubHarness;
beforeAll(async () => {
  h = await startGithubHarness({ config: { providerTimeoutSeconds: PROVIDER_TIMEOUT_SECONDS } });
});
afterAll(() => h?.close());
afterEach(() => {
  delete h.faults.formEncodedTokens;
  delete h.faults.apiStatus;
  delete h.faults.apiDelayMs;
});

async function signInAs(login: string): Promise<SessionUser> {
  const login_ = await loginThroughGithub(h, accountOf(h, login));
  const created = await postSession(h, { code: login_.code, state: login_.state, code_verifier: login_.verifier });
  expect(created.status, await created.clone().text()).toBe(201);
  return ((await created.json()) as { user: SessionUser }).user;
}

describe('signing in with GitHub', () => {
  test('When a user signs in through GitHub, then the session carries their verified primary address, name and avatar, and nothing secret is logged', async () => {
    const login = await loginThroughGithub(h, accountOf(h, 'ada'));
    // PKCE S256 and GitHub's scopes; no nonce, as there is no ID token to carry it.
    expect(login.authorizationUrl.pathname).toBe('/github/login/oauth/authorize');
    expect(login.authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(login.authorizationUrl.searchParams.get('scope')).toBe('read:user user:email');
    expect(login.authorizationUrl.searchParams.has('nonce')).toBe(false);

    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(201);
    const { user } = (await created.json()) as { user: SessionUser };
    expect(user).toMatchObject({ email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', picture: 'https://example.com/avatars/ada.png' });

    const logText = h.logs.join('');
    for (const secret of [login.code, login.state, login.verifier, CLIENT_SECRET]) expect(logText).not.toContain(secret);
  });

  test('When a login starts without PKCE at the fake, then the fake refuses it, so a sign-in through it proves the server sends PKCE', async () => {
    const { url } = startUrl(h, { provider: 'github' });
    const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    const authorizationUrl = new URL(started.headers.get('location')!);
    authorizationUrl.searchParams.delete('code_challenge');
    expect((await fetch(authorizationUrl)).status).toBe(400);
  });

  test('When a user renames their login, then they are still the same user, and whoever takes the old login is someone else', async () => {
    const before = await signInAs('ada');
    const ada = accountOf(h, 'ada');
    ada.login = 'ada-lovelace';
    const alan = accountOf(h, 'alan');
    try {
      const afterRename = await signInAs('ada-lovelace');
      expect(afterRename.id).toBe(before.id);

      alan.login = 'ada';
      const newcomer = await signInAs('ada');
      expect(newcomer.id).not.toBe(before.id);
      expect(newcomer.email).toBe('alan@example.com');
    } finally {
      ada.login = 'ada';
      alan.login = 'alan';
    }
  });

  test('When the primary address is not verified, then it stays unverified, and a verified address that is not primary is not promoted', async () => {
    const user = await signInAs('unverified-primary');
    expect(user).toMatchObject({ email: 'una@example.com', email_verified: false, name: 'Una Verified' });
  });

  test('When the account has no address in /user/emails and an empty name, then the user has no email, even the one its profile shows, and no name', async () => {
    const user = await signInAs('no-email');
    expect(user).toMatchObject({ email: null, email_verified: false, name: null, picture: 'https://avatars.example.com/u/9002' });
  });
});

describe('when GitHub refuses or misbehaves', () => {
  test('When GitHub refuses the code (HTTP 200 with an error), then the session is refused as 401 invalid_grant', async () => {
    const login = await loginThroughGithub(h, accountOf(h, 'ada'));
    const logged = h.logs.length;
    const created = await postSession(h, { code: `${login.code}0`, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(401);
    expect(await problemCode(created)).toBe('invalid_grant');
    // Logged as the provider's OAuth error, not as a malformed answer.
    expect(h.logs.slice(logged).join('')).toContain('OAUTH_RESPONSE_BODY_ERROR');
  });

  test('When the token endpoint answers form-encoded although asked for JSON, then the session fails as 502 provider_unavailable, without the token in the answer', async () => {
    const login = await loginThroughGithub(h, accountOf(h, 'ada'));
    h.faults.formEncodedTokens = true;
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(502);
    const body = await created.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'provider_unavailable' });
    expect(body).not.toContain('gho_');
    expect(h.logs.join('')).not.toContain('gho_');
  });

  test("When GitHub's API fails with 500, then the session fails as 502 provider_unavailable", async () => {
    const login = await loginThroughGithub(h, accountOf(h, 'ada'));
    h.faults.apiStatus = 500;
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(502);
    expect(await problemCode(created)).toBe('provider_unavailable');
  });

  test("When GitHub's API does not answer in time, then the session fails as 502 provider_unavailable", async () => {
    const login = await loginThroughGithub(h, accountOf(h, 'ada'));
    h.faults.apiDelayMs = (PROVIDER_TIMEOUT_SECONDS + 2) * 1000;
    const started = Date.now();
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(502);
    expect(await problemCode(created)).toBe('provider_unavailable');
    expect(Date.now() - started).toBeLessThan((PROVIDER_TIMEOUT_SECONDS + 2) * 1000);
  });

  test("When GitHub's API refuses the new token with 401, then the session is refused as 401 invalid_grant", async () => {
    const login = await loginThroughGithub(h, accountOf(h, 'ada'));
    h.faults.apiStatus = 401;
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.status).toBe(401);
    expect(await problemCode(created)).toBe('invalid_grant');
  });
});
