import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Browser } from './support/browser.js';
import { ADMIN_API_KEY, startStack, type Stack } from './support/stack.js';

/**
 * The BFF through its Express adapter, over HTTP, against the real auth
 * server and the real local identity provider: sign-in, where the tokens
 * are (never in the browser), refresh under concurrency, sign-out, CSRF.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

const ACCESS_TOKEN_TTL_MS = 15 * 60_000;

async function signedIn(): Promise<{ browser: Browser; sessionId: string; accessToken: string }> {
  const browser = new Browser(stack.appUrl);
  const back = await browser.signIn('ada');
  expect(back.status).toBe(303);
  const session = await stack.bff.getSession(new Headers({ cookie: browser.cookieHeader }));
  if (!session) throw new Error('no session after sign-in');
  return { browser, sessionId: session.session.id, accessToken: session.accessToken };
}

/** How many times the server rotated this session's refresh token, from its audit log. */
async function rotations(sessionId: string): Promise<number> {
  const response = await fetch(`${stack.authUrl}/v1/admin/audit-events?limit=100`, { headers: { 'X-API-Key': ADMIN_API_KEY } });
  expect(response.status).toBe(200);
  const { data } = (await response.json()) as { data: { type: string; session_id: string | null }[] };
  return data.filter((event) => event.type === 'session_refreshed' && event.session_id === sessionId).length;
}

/** Whether the server still holds the session: `GET /v1/auth/session` with one of its access tokens. */
async function liveOnServer(accessToken: string): Promise<boolean> {
  const response = await fetch(`${stack.authUrl}/v1/auth/session`, { headers: { Authorization: `Bearer ${accessToken}` } });
  return response.status === 200;
}

describe('signing in', () => {
  test('When ada signs in through the app, then the page the server renders names her, and /api/me answers her', async () => {
    const { browser } = await signedIn();
    const page = await browser.request('/');
    expect(await page.text()).toContain('Hello, Ada Lovelace');
    const me = await browser.request('/api/me');
    expect(await me.json()).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com' });
  });

  test('When ada signs in, then no access or refresh token reaches the browser, and its one cookie is HttpOnly and SameSite=Lax', async () => {
    const { browser, accessToken } = await signedIn();
    await browser.request('/');
    await browser.request('/api/me');
    await browser.request('/auth/session');
    const everything = browser.received.join('\n');
    expect(everything).not.toContain('rt_');
    expect(everything).not.toContain(accessToken);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    expect([...browser.cookies.keys()]).toEqual(['aimable_session']);
    expect([...browser.cookies.values()].every((cookie) => cookie.httpOnly)).toBe(true);
    const sessionCookie = browser.received.find((line) => line.startsWith('aimable_session='))!;
    expect(sessionCookie).toMatch(/; HttpOnly; SameSite=Lax$/);
  });

  test('When the callback carries a state this browser did not start, then no session is made', async () => {
    const browser = new Browser(stack.appUrl);
    await browser.request('/auth/sign-in/dev');
    const back = await browser.request('/auth/callback?code=stolen&state=someone-elses');
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/?auth_error=invalid_state');
    expect(browser.cookies.has('aimable_session')).toBe(false);
  });

  test('When the sign-in link names another site to return to, then the browser comes back to the app instead', async () => {
    const browser = new Browser(stack.appUrl);
    const back = await browser.signIn('ada', '//evil.example/steal');
    expect(back.headers.get('location')).toBe('/');
  });
});

describe('staying signed in', () => {
  test('When 20 requests arrive just after the access token expired, then the session is refreshed once and every request is served', async () => {
    const { browser, sessionId } = await signedIn();
    expect(await rotations(sessionId)).toBe(0);
    stack.clock.advance(ACCESS_TOKEN_TTL_MS + 1_000);
    const callsBefore = stack.calls.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => browser.request('/api/me')));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(await rotations(sessionId)).toBe(1);
    expect(stack.calls.slice(callsBefore).filter((path) => path === '/v1/refresh')).toHaveLength(1);
    // Not signed out: the next request is served on the rotated tokens without another refresh.
    expect((await browser.request('/api/me')).status).toBe(200);
    expect(await rotations(sessionId)).toBe(1);
  });

  test('When two processes of the app refresh the same session at once, then the server grace window gives both the same grant, and the session lives on', async () => {
    const { browser, sessionId } = await signedIn();
    stack.clock.advance(ACCESS_TOKEN_TTL_MS + 1_000);
    const other = stack.secondProcess();
    const headers = new Headers({ cookie: browser.cookieHeader });
    const [first, second] = await Promise.all([stack.bff.getSession(headers), other.getSession(headers)]);
    expect(first?.accessToken).toBeDefined();
    expect(second?.accessToken).toBe(first?.accessToken);
    expect(await rotations(sessionId)).toBe(1);
    expect(await liveOnServer(first!.accessToken)).toBe(true);
    expect((await browser.request('/api/me')).status).toBe(200);
  });
});

describe('signing out', () => {
  test('When ada signs out from the app, then the session ends on the server and the cookie is cleared', async () => {
    const { browser, accessToken } = await signedIn();
    expect(await liveOnServer(accessToken)).toBe(true);
    const out = await browser.request('/auth/sign-out', { method: 'POST' });
    expect(out.status).toBe(303);
    expect(browser.cookies.has('aimable_session')).toBe(false);
    expect(await liveOnServer(accessToken)).toBe(false);
    expect((await browser.request('/api/me')).status).toBe(401);
  });

  test('When the sign-out POST comes from another origin, or names none, then it is refused and ada stays signed in', async () => {
    const { browser, accessToken } = await signedIn();
    const forged = await browser.request('/auth/sign-out', { method: 'POST', headers: { Origin: 'http://evil.example' } });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { code: string }).code).toBe('csrf_refused');
    const bare = await fetch(new URL('/auth/sign-out', stack.appUrl), { method: 'POST', headers: { Cookie: browser.cookieHeader }, redirect: 'manual' });
    expect(bare.status).toBe(403);
    const sameOrigin = await fetch(new URL('/auth/sign-out', stack.appUrl), { method: 'GET', headers: { Cookie: browser.cookieHeader }, redirect: 'manual' });
    expect(sameOrigin.status).toBe(405);
    expect(await liveOnServer(accessToken)).toBe(true);
    expect((await browser.request('/api/me')).status).toBe(200);
  });
});
