import { AuthApiError, createAuth, isAuthApiError, memoryStorage, SignInError, type AuthEvent, type AuthStorage } from '@aimable/auth-client';
import { signInAt } from '@aimable/dev-idp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ManualClock, startHarness, type Harness } from './support/harness.js';
import { API_KEY, POST_LOGOUT_REDIRECT_URI, REDIRECT_URI, tenantsWith } from './support/tenants.js';

/**
 * The client's sign-in helpers (`createAuth`) against the real server and
 * the real local identity provider, in Node: PKCE, the callback, the
 * idempotent session creation, refresh on 401 (once for many calls),
 * the scheduled refresh, restore and sign-out.
 */

const clock = new ManualClock();
let h: Harness;
let shortLived: Harness;

beforeAll(async () => {
  h = await startHarness({ clock });
  // Access tokens of 2 seconds, for the scheduled refresh.
  shortLived = await startHarness({ tenants: tenantsWith({ alpha: { session_policy: { access_token_ttl_seconds: 2 } } }) });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await shortLived?.close();
});

interface Sent {
  method: string;
  path: string;
  headers: Headers;
}

/** A client of tenant alpha, whose requests are recorded. */
function client(harness: Harness, options: { storage?: AuthStorage; fetch?: typeof fetch } = {}) {
  const sent: Sent[] = [];
  const opened: string[] = [];
  const events: AuthEvent[] = [];
  const inner = options.fetch ?? fetch;
  const auth = createAuth({
    baseUrl: harness.url,
    tenantId: 'alpha',
    apiKey: API_KEY,
    storage: options.storage,
    navigate: (url) => void opened.push(url),
    fetch: async (input, init) => {
      const request = new Request(input, init);
      sent.push({ method: request.method, path: new URL(request.url).pathname, headers: request.headers });
      return inner(request);
    },
  });
  auth.onAuthStateChange((event) => void events.push(event));
  return { auth, sent, opened, events };
}

/** What the provider and the callback do in a browser: sign in as ada, and come back to the frontend's URL. */
async function providerRoundTrip(authorizationUrl: string, username = 'ada'): Promise<string> {
  const providerReturn = await signInAt(authorizationUrl, { username, password: 'password' });
  const callback = await fetch(providerReturn, { redirect: 'manual' });
  return callback.headers.get('location')!;
}

async function signedIn(harness = h, options: { storage?: AuthStorage; fetch?: typeof fetch } = {}) {
  const c = client(harness, options);
  await c.auth.signIn('dev', { redirectUri: REDIRECT_URI });
  const back = await providerRoundTrip(c.opened[0]!);
  await c.auth.handleRedirectCallback(back);
  return c;
}

const refreshes = (sent: Sent[]) => sent.filter((request) => request.path === '/v1/refresh').length;

describe('signing in', () => {
  test('When a user signs in, then the start carries an S256 challenge, the callback makes a session, and signed_in is reported', async () => {
    const { auth, sent, opened, events } = client(h);
    await auth.signIn('dev', { redirectUri: REDIRECT_URI });
    const start = new URL(`${h.url}${sent[0]!.path}`);
    expect(start.pathname).toBe('/v1/auth/oidc/dev/start');
    expect(sent[0]!.headers.get('accept')).toContain('application/problem+json');
    expect(opened).toHaveLength(1);

    const session = await auth.handleRedirectCallback(await providerRoundTrip(opened[0]!));
    expect(session.user.email).toBe('ada@example.com');
    expect(auth.session?.accessToken).toBe(session.accessToken);
    expect(events).toEqual(['signed_in']);
    const creation = sent.find((request) => request.path === '/v1/auth/oidc/session')!;
    expect(creation.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await auth.currentSession()).session.id).toBe(session.session.id);
  });

  test('When the callback carries a state this client did not start, or one it already used, then it is refused before the API is asked', async () => {
    const { auth, opened, sent } = client(h);
    await auth.signIn('dev', { redirectUri: REDIRECT_URI });
    const back = await providerRoundTrip(opened[0]!);
    const forged = new URL(back);
    forged.searchParams.set('state', 'a-state-from-someone-else');
    await expect(auth.handleRedirectCallback(forged.href)).rejects.toMatchObject({ name: 'SignInError', code: 'unknown_state' });
    expect(sent.some((request) => request.path === '/v1/auth/oidc/session')).toBe(false);

    await auth.handleRedirectCallback(back);
    const again = await auth.handleRedirectCallback(back).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(SignInError);
    expect((again as SignInError).code).toBe('unknown_state');
  });

  test('When the same callback is handled twice at once, then one session is created and the other is refused', async () => {
    const { auth, opened, sent } = client(h);
    await auth.signIn('dev', { redirectUri: REDIRECT_URI });
    const back = await providerRoundTrip(opened[0]!);
    const outcomes = await Promise.allSettled([auth.handleRedirectCallback(back), auth.handleRedirectCallback(back)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')).toMatchObject({ reason: { code: 'unknown_state' } });
    expect(sent.filter((request) => request.path === '/v1/auth/oidc/session')).toHaveLength(1);
  });

  test('When the API hands over an authorization URL that is not a web page, then sign-in refuses to open it', async () => {
    // A misconfigured or compromised API, which the real server cannot be made into.
    const opened: string[] = [];
    const auth = createAuth({
      baseUrl: h.url,
      tenantId: 'alpha',
      apiKey: API_KEY,
      navigate: (url) => void opened.push(url),
      fetch: async () => Response.json({ authorization_url: 'javascript:alert(document.cookie)', state: 's', expires_at: new Date().toISOString() }),
    });
    await expect(auth.signIn('dev', { redirectUri: REDIRECT_URI })).rejects.toMatchObject({ code: 'unsafe_authorization_url' });
    expect(opened).toEqual([]);
  });

  test('When the provider refuses, then the callback reports its error code, and not a session', async () => {
    const kept = new Map<string, string>();
    const { auth } = client(h, { storage: { get: (key) => kept.get(key), set: (key, value) => void kept.set(key, value), remove: (key) => void kept.delete(key) } });
    await auth.signIn('dev', { redirectUri: REDIRECT_URI });
    const state = [...kept.keys()][0]!.replace('aimable-auth:login:', '');
    const error = await auth.handleRedirectCallback(`${REDIRECT_URI}?error=access_denied&state=${state}`).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'provider_error', error: 'access_denied' });
    expect(auth.session).toBeUndefined();
  });

  test('When the answer to the session creation is lost, then it is retried with the same key and one session is made', async () => {
    let dropped = 0;
    const { auth, sent } = await signedIn(h, {
      fetch: async (input, init) => {
        const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
        const response = await fetch(input, init);
        // The request reaches the server, and its answer is lost on the way back.
        if (path === '/v1/auth/oidc/session' && dropped++ === 0) throw new TypeError('fetch failed');
        return response;
      },
    });
    const creations = sent.filter((request) => request.path === '/v1/auth/oidc/session');
    expect(creations).toHaveLength(2);
    expect(creations[1]!.headers.get('idempotency-key')).toBe(creations[0]!.headers.get('idempotency-key'));
    const mine = await fetch(`${h.url}/v1/auth/sessions`, { headers: { Authorization: `Bearer ${auth.session!.accessToken}` } });
    const sessions = ((await mine.json()) as { data: { id: string }[] }).data;
    expect(sessions.filter((session) => session.id === auth.session!.session.id)).toHaveLength(1);
  });
});

describe('staying signed in', () => {
  test('When ten calls meet an expired access token at once, then one refresh serves them all and each call is retried once', async () => {
    const { auth, sent, events } = await signedIn();
    const before = auth.session!.accessToken;
    clock.advance(16 * 60_000);
    const answers = await Promise.all(Array.from({ length: 10 }, () => auth.fetch(`${h.url}/v1/auth/session`)));
    expect(answers.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(refreshes(sent)).toBe(1);
    expect(auth.session!.accessToken).not.toBe(before);
    expect(events).toEqual(['signed_in', 'token_refreshed']);
  });

  test('When the fetch wrapper calls another origin, then it never sends the bearer there', async () => {
    const { auth, sent } = await signedIn();
    await auth.fetch(`${h.url}/v1/auth/session`);
    await auth.fetch('http://127.0.0.1:9/elsewhere').catch(() => undefined);
    expect(sent.find((request) => request.path === '/v1/auth/session')!.headers.get('authorization')).toMatch(/^Bearer /);
    expect(sent.find((request) => request.path === '/elsewhere')!.headers.get('authorization')).toBeNull();
  });

  test('When the access token nears its expiry, then the scheduled refresh renews it before any call fails', async () => {
    const { auth, events } = await signedIn(shortLived);
    const first = auth.session!;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(events).toContain('token_refreshed');
    expect(auth.session!.accessToken).not.toBe(first.accessToken);
    expect(auth.session!.expiresAt).toBeGreaterThan(first.expiresAt);
    await auth.signOut();
  });

  test('When the page loads again, then restore() brings the session back through the stored refresh, and nothing without one', async () => {
    const storage = memoryStorage();
    const { auth } = await signedIn(h, { storage });
    const reloaded = client(h, { storage });
    const restored = await reloaded.auth.restore();
    expect(restored?.session.id).toBe(auth.session!.session.id);
    expect(reloaded.events).toEqual(['signed_in']);
    expect(await client(h).auth.restore()).toBeUndefined();
    // A wrong API key is a mistake to report, not a signed-out user.
    const misconfigured = createAuth({ baseUrl: h.url, tenantId: 'alpha', apiKey: 'ak_wrong', storage });
    await expect(misconfigured.restore()).rejects.toMatchObject({ code: 'invalid_api_key' });
  });

  test('When the refresh token was reused elsewhere and the session revoked, then the client signs the user out', async () => {
    const storage = memoryStorage();
    const { auth, events } = await signedIn(h, { storage });
    const stolen = (await storage.get('aimable-auth:refresh'))!;
    await auth.refresh();
    clock.advance(11_000);
    // The old token, used after the grace window: the server revokes the session.
    const reuse = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: stolen }) });
    expect(((await reuse.json()) as { code: string }).code).toBe('refresh_token_reused');
    const error = await auth.refresh().catch((e: unknown) => e);
    expect(isAuthApiError(error, 'refreshSession')).toBe(true);
    expect(auth.session).toBeUndefined();
    expect(events.at(-1)).toBe('signed_out');
  });
});

describe('signing out', () => {
  test('When the user signs out while a refresh is under way, then the user stays signed out and the session is ended', async () => {
    const { auth, events } = await signedIn();
    const pending = auth.refresh();
    await auth.signOut();
    await pending.catch(() => undefined);
    expect(auth.session).toBeUndefined();
    expect(events.at(-1)).toBe('signed_out');
  });

  test('When the user signs out at the provider too, then the client opens the end-session URL, returns it, and the session is over', async () => {
    const { auth, opened, events } = await signedIn();
    const sessionId = auth.session!.session.id;
    const { providerLogoutUrl } = await auth.signOut({ provider: true, postLogoutRedirectUri: POST_LOGOUT_REDIRECT_URI });
    const url = new URL(providerLogoutUrl!);
    expect(`${url.origin}${url.pathname}`).toBe(`${h.idp!.issuer}/session/end`);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(POST_LOGOUT_REDIRECT_URI);
    expect(url.searchParams.get('id_token_hint')).toBeTruthy();
    expect(opened.at(-1)).toBe(providerLogoutUrl);
    expect(events.at(-1)).toBe('signed_out');
    expect((await h.server.store.findSession('alpha', sessionId))?.revokedReason).toBe('logout');
  });

  test('When a plain sign-out is asked, then nothing is opened and no URL is returned', async () => {
    const { auth, opened } = await signedIn();
    const before = opened.length;
    expect(await auth.signOut()).toEqual({ providerLogoutUrl: null });
    expect(opened).toHaveLength(before);
  });

  test('When the access token has expired, then signOut still ends the session on the server', async () => {
    const storage = memoryStorage();
    const { auth, events } = await signedIn(h, { storage });
    const sessionId = auth.session!.session.id;
    clock.advance(16 * 60_000);
    await auth.signOut();
    expect(auth.session).toBeUndefined();
    expect(events.at(-1)).toBe('signed_out');
    // The session is gone: another sign-in of ada no longer lists it.
    const { auth: later } = await signedIn();
    const list = await later.fetch(`${h.url}/v1/auth/sessions?limit=100`);
    const ids = ((await list.json()) as { data: { id: string }[] }).data.map((session) => session.id);
    expect(ids).not.toContain(sessionId);
  });
});

describe('errors', () => {
  test('When nothing answers, then the error is a typed network_error of the operation, not a bare TypeError', async () => {
    const auth = createAuth({ baseUrl: 'http://127.0.0.1:9', tenantId: 'alpha', apiKey: API_KEY });
    const error = await auth.providers().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({ code: 'network_error', status: 0, operation: 'listProviders' });
    expect(isAuthApiError(error, 'listProviders')).toBe(true);
    expect(isAuthApiError(error, 'refreshSession')).toBe(false);
  });
});
