import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loginThroughProvider, ManualClock, pkcePair, postSession, problemCode, startHarness, startJson, startUrl, type Harness } from './support/harness.js';
import { OTHER_REDIRECT_URI, pkceOptional, REDIRECT_URI, tenantsWith } from './support/tenants.js';
import { createHash } from 'node:crypto';
import { signInAt } from '@aimable/dev-idp';

const clock = new ManualClock();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

/** Each differs from the allowlisted `http://localhost:5173/auth/callback` in a way a lax matcher lets through. */
const bypassAttempts = [
  ['prefix match', 'http://localhost:5173/auth/callbackx'],
  ['trailing slash', 'http://localhost:5173/auth/callback/'],
  ['sub-path', 'http://localhost:5173/auth/callback/evil'],
  ['extra query', 'http://localhost:5173/auth/callback?next=https://evil.example'],
  ['fragment', 'http://localhost:5173/auth/callback#frag'],
  ['fragment with @', 'http://localhost:5173/auth/callback#@evil.example'],
  ['other port', 'http://localhost:5174/auth/callback'],
  ['default port spelled out', 'http://localhost:80/auth/callback'],
  ['other scheme', 'https://localhost:5173/auth/callback'],
  ['user@host', 'http://localhost:5173@evil.example/auth/callback'],
  ['userinfo before host', 'http://evil.example@localhost:5173/auth/callback'],
  ['backslash in authority', 'http://localhost:5173\\@evil.example/auth/callback'],
  ['backslashes as slashes', 'http:\\\\localhost:5173\\auth\\callback'],
  ['trailing dot host', 'http://localhost.:5173/auth/callback'],
  ['host suffix', 'http://localhost:5173.evil.example/auth/callback'],
  ['upper-case host', 'http://LOCALHOST:5173/auth/callback'],
  ['upper-case path', 'http://localhost:5173/AUTH/callback'],
  ['encoded slash', 'http://localhost:5173/auth%2Fcallback'],
  ['encoded letter', 'http://localhost:5173/auth/%63allback'],
  ['encoded null byte', 'http://localhost:5173/auth/callback%00'],
  ['path traversal', 'http://localhost:5173/auth/callback/../../evil'],
  ['dot segment', 'http://localhost:5173/auth/./callback'],
  ['encoded traversal', 'http://localhost:5173/auth/callback/%2e%2e/%2e%2e/evil'],
  ['scheme-relative', '//localhost:5173/auth/callback'],
  ['IP instead of name', 'http://127.0.0.1:5173/auth/callback'],
  ['IPv6 loopback', 'http://[::1]:5173/auth/callback'],
  ['javascript scheme', 'javascript:alert(1)//localhost:5173/auth/callback'],
  ['data scheme', 'data:text/html,<script>alert(1)</script>'],
  ['leading space', ' http://localhost:5173/auth/callback'],
  ['trailing newline', 'http://localhost:5173/auth/callback\n'],
  ['tab inside', 'http://localhost:5173/auth/\tcallback'],
  ['another tenant’s URI', OTHER_REDIRECT_URI],
] as const;

/** RFC 3986 percent-encoding of every reserved character, so that each attempt reaches the allowlist check. */
function strictlyEncoded(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

describe('the redirect allowlist (RFC 9700 §4.11.1)', () => {
  test.each(bypassAttempts)('When frontend_redirect_uri is a %s bypass, then 400 and no redirect, no state', async (_name, uri) => {
    const before = (await h.server.store.countRows()).loginStates;
    const response = await fetch(`${h.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${strictlyEncoded(uri)}&code_challenge=${pkcePair().challenge}&code_challenge_method=S256`, {
      headers: { 'X-Tenant-Id': 'alpha' },
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.json()).toMatchObject({ code: 'redirect_uri_not_allowed', detail: "frontend_redirect_uri is not on the tenant's allowlist." });
    expect((await h.server.store.countRows()).loginStates).toBe(before);
  });

  test('When the allowlisted URI is sent exactly, then the login starts (the corpus is not refused for another reason)', async () => {
    const response = await fetch(startUrl(h).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    expect(response.status).toBe(302);
  });
});

describe('a tenant with several redirect URIs', () => {
  test('When any one of them is sent exactly, then the login starts', async () => {
    const several = await startHarness({ tenants: tenantsWith({ alpha: { redirect_uris: [REDIRECT_URI, 'http://localhost:4173/auth/callback'] } }) });
    try {
      for (const redirectUri of [REDIRECT_URI, 'http://localhost:4173/auth/callback']) {
        expect((await fetch(startUrl(several, { redirectUri }).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' })).status).toBe(302);
      }
    } finally {
      await several.close();
    }
  });
});

describe('the login state', () => {
  test('When a state is replayed after its session was created, then 401 invalid_state', async () => {
    const login = await loginThroughProvider(h);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier };
    expect((await postSession(h, body)).status).toBe(201);
    const replay = await postSession(h, body);
    expect(replay.status).toBe(401);
    expect(await problemCode(replay)).toBe('invalid_state');
  });

  test('When a state is older than 10 minutes, then the callback answers 400 and session creation 401 invalid_state', async () => {
    const { challenge } = pkcePair();
    const started = await fetch(`${h.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256`, {
      headers: { 'X-Tenant-Id': 'alpha' },
      redirect: 'manual',
    });
    const providerReturn = await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' });
    clock.advance(10 * 60 * 1000 + 1000);
    const callback = await fetch(providerReturn, { redirect: 'manual' });
    expect(callback.status).toBe(400);
    expect(callback.headers.get('location')).toBeNull();
    expect(await problemCode(callback)).toBe('invalid_state');
    const session = await postSession(h, { code: providerReturn.searchParams.get('code'), state: providerReturn.searchParams.get('state') });
    expect(await problemCode(session)).toBe('invalid_state');
  });

  test('When a state of one provider arrives at another provider’s callback, then 400 invalid_state', async () => {
    const { state } = await startJson(h, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
    const callback = await fetch(`${h.url}/v1/auth/oidc/other/callback?code=c&state=${state}`, { redirect: 'manual' });
    expect(callback.status).toBe(400);
    expect(await problemCode(callback)).toBe('invalid_state');
  });

  test('When a state is unknown, then the callback answers 400 and never redirects', async () => {
    const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?code=c&state=made-up`, { redirect: 'manual' });
    expect(callback.status).toBe(400);
    expect(await problemCode(callback)).toBe('invalid_state');
  });

  test('When states are created, then each has at least 128 bits and only its hash is stored', async () => {
    const states = new Set<string>();
    for (let i = 0; i < 20; i += 1) {
      const { state } = await startJson(h);
      expect(Buffer.from(state, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      states.add(state);
    }
    expect(states.size).toBe(20);
    const { readFileSync } = await import('node:fs');
    const database = readFileSync(h.config.databaseFile).toString('latin1') + readFileSync(`${h.config.databaseFile}-wal`).toString('latin1');
    for (const state of states) expect(database).not.toContain(state);
  });

  test('When the provider answers with an error, then the browser goes back with error and state, and the state redeems nothing', async () => {
    const { state, verifier } = await startJson(h);
    const iss = encodeURIComponent(h.idp!.issuer);
    const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?error=access_denied&error_description=denied&state=${state}&iss=${iss}`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
    expect([...back.searchParams.keys()].sort()).toEqual(['error', 'state']);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(state);
    // Without a code the provider issued for it, the state makes no session.
    const before = (await h.server.store.countRows()).sessions;
    expect(await problemCode(await postSession(h, { code: 'c', state, code_verifier: verifier }))).toBe('invalid_grant');
    expect((await h.server.store.countRows()).sessions).toBe(before);
  });

  test('When someone who knows a state sends the callback an error or a wrong iss with it, then the login it belongs to still completes', async () => {
    const { url, verifier } = startUrl(h);
    const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    const authorizationUrl = started.headers.get('location')!;
    const state = new URL(authorizationUrl).searchParams.get('state')!;
    const iss = encodeURIComponent(h.idp!.issuer);
    for (const query of [`error=access_denied&state=${state}&iss=${iss}`, `iss=https://attacker.example&state=${state}&code=x`, `state=${state}&code=x`]) {
      const meddled = await fetch(`${h.url}/v1/auth/oidc/dev/callback?${query}`, { redirect: 'manual' });
      expect(meddled.status).toBe(302);
      expect(new URL(meddled.headers.get('location')!).searchParams.get('code')).toBeNull();
    }
    const back = new URL((await fetch(await signInAt(authorizationUrl, { username: 'ada', password: 'password' }), { redirect: 'manual' })).headers.get('location')!);
    const created = await postSession(h, { code: back.searchParams.get('code'), state, code_verifier: verifier });
    expect(created.status).toBe(201);
  });

  test('When a link carries an error of its own making, then the frontend gets server_error and none of its text', async () => {
    const { state } = await startJson(h);
    const iss = encodeURIComponent(h.idp!.issuer);
    const text = 'Call+555-0100+now+to+restore+your+account';
    const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?error=evil&error_description=${text}&error_uri=https://evil.example&state=${state}&iss=${iss}`, {
      redirect: 'manual',
    });
    expect(callback.status).toBe(302);
    const location = callback.headers.get('location')!;
    const back = new URL(location);
    expect([...back.searchParams.keys()].sort()).toEqual(['error', 'state']);
    expect(back.searchParams.get('error')).toBe('server_error');
    expect(location).not.toMatch(/555|evil|restore/i);
  });

  test('When the provider sends any RFC 6749 error code, then that code reaches the frontend unchanged', async () => {
    const codes = ['invalid_request', 'unauthorized_client', 'access_denied', 'unsupported_response_type', 'invalid_scope', 'server_error', 'temporarily_unavailable'];
    for (const error of codes) {
      const { state } = await startJson(h);
      const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?error=${error}&state=${state}&iss=${encodeURIComponent(h.idp!.issuer)}`, { redirect: 'manual' });
      expect(new URL(callback.headers.get('location')!).searchParams.get('error')).toBe(error);
    }
  });
});

describe('PKCE between the frontend and the server (login CSRF)', () => {
  test('When a login is started without code_challenge, then 400 names code_challenge and says what to send, and no state is stored', async () => {
    const before = await h.server.store.countRows();
    const response = await fetch(startUrl(h, { challenge: null }).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const problem = (await response.json()) as { code: string; detail: string; errors: { location: string }[] };
    expect(problem.code).toBe('invalid_request');
    expect(problem.errors.map((e) => e.location)).toEqual(['query.code_challenge']);
    expect(problem.detail).toMatch(/code_verifier.*S256/);
    expect(await h.server.store.countRows()).toEqual(before);
  });

  test('When the attacker’s own code and state are posted by another client without the verifier, then 401 invalid_grant and nothing is written', async () => {
    const attacker = await loginThroughProvider(h, { username: 'alan' });
    const before = await h.server.store.countRows();
    const response = await postSession(h, { code: attacker.code, state: attacker.state });
    expect(response.status).toBe(401);
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe('invalid_grant');
    expect(problem.detail).toContain('code_verifier');
    expect(await h.server.store.countRows()).toEqual(before);
  });

  test('When a stolen code and state are posted with another verifier, then 401 invalid_grant, nothing is written, and the real browser still signs in', async () => {
    const login = await loginThroughProvider(h);
    const before = await h.server.store.countRows();
    for (const verifier of [pkcePair().verifier, login.verifier.slice(0, -1) + (login.verifier.endsWith('A') ? 'B' : 'A')]) {
      const response = await postSession(h, { code: login.code, state: login.state, code_verifier: verifier }, { key: 'thief-key' });
      expect(await problemCode(response)).toBe('invalid_grant');
    }
    expect(await h.server.store.countRows()).toEqual(before);
    const own = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { key: 'thief-key' });
    expect(own.status).toBe(201);
  });

  test('When a tenant makes frontend PKCE optional, then a login without a challenge works, and one with a challenge still needs its verifier', async () => {
    const optional = await startHarness({ tenants: pkceOptional });
    try {
      const { url } = startUrl(optional, { challenge: null });
      const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
      expect(started.status).toBe(302);
      const back = new URL((await fetch(await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' }), { redirect: 'manual' })).headers.get('location')!);
      const created = await postSession(optional, { code: back.searchParams.get('code'), state: back.searchParams.get('state') });
      expect(created.status).toBe(201);
      const methodAlone = await fetch(`${startUrl(optional, { challenge: null }).url}&code_challenge_method=S256`, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
      expect(methodAlone.status).toBe(400);
      expect(((await methodAlone.json()) as { errors: unknown[] }).errors).toEqual([{ location: 'query.code_challenge', message: 'is required with code_challenge_method' }]);
      const withChallenge = await loginThroughProvider(optional);
      expect(await problemCode(await postSession(optional, { code: withChallenge.code, state: withChallenge.state }))).toBe('invalid_grant');
      expect((await postSession(optional, { code: withChallenge.code, state: withChallenge.state, code_verifier: withChallenge.verifier })).status).toBe(201);
    } finally {
      await optional.close();
    }
  });

  test('When code_challenge_method is not S256 or comes without a challenge, then 400 says which and why', async () => {
    const cases = [
      ['code_challenge_method=S256', 'query.code_challenge', /^is required/],
      [`code_challenge=${pkcePair().challenge}`, 'query.code_challenge_method', /^must be S256 \(without it, RFC 7636 §4\.3 means plain/],
      [`code_challenge=${pkcePair().challenge}&code_challenge_method=plain`, 'query.code_challenge_method', /^must be/],
    ] as const;
    for (const [query, location, message] of cases) {
      const response = await fetch(`${h.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${query}`, {
        headers: { 'X-Tenant-Id': 'alpha' },
        redirect: 'manual',
      });
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { errors: { location: string; message: string }[] };
      expect(problem.errors).toHaveLength(1);
      expect(problem.errors[0]!.location).toBe(location);
      expect(problem.errors[0]!.message).toMatch(message);
    }
  });

  test('When a tenant requires PKCE and a state without a challenge turns up (started before the policy changed), then it redeems nothing', async () => {
    const state = 'a-state-from-before-the-policy';
    const now = clock.now();
    await h.server.store.insertLoginState({
      stateHash: createHash('sha256').update(state).digest('hex'), tenantId: 'alpha', providerId: 'dev', redirectUri: REDIRECT_URI,
      pkceVerifier: pkcePair().verifier, nonce: 'n', codeChallenge: null, createdAt: now, expiresAt: now + 60_000, consumedAt: null,
    });
    const response = await postSession(h, { code: 'c', state });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'invalid_grant', detail: 'This login was started without a code_challenge; start it again with one.' });
    const unknown = await postSession(h, { code: 'c', state: 'never-issued' });
    expect(await unknown.json()).toMatchObject({ code: 'invalid_state', detail: 'The login state is unknown, expired or already used.' });
  });

  test('When a wrong verifier is sent, then the detail says that it does not match', async () => {
    const login = await loginThroughProvider(h);
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: pkcePair().verifier });
    expect(await response.json()).toMatchObject({ code: 'invalid_grant', detail: 'code_verifier does not match the code_challenge of this login.' });
  });

  test('When the provider answers with neither code nor error, then the frontend gets invalid_request and no code', async () => {
    const { state } = await startJson(h);
    const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?state=${state}&iss=${encodeURIComponent(h.idp!.issuer)}`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
  });
});
