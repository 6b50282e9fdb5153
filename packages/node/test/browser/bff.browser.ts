import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADMIN_API_KEY, startStack, type Stack } from '../support/stack.js';

/**
 * The BFF through its Express adapter, driven by a real Chromium
 * (`/usr/bin/chromium`, from Debian's package): the page signs in through
 * the real auth server and the real local identity provider, then calls
 * the app's API with nothing but its session cookie.
 */

/** A refresh token, or a JWT (an access or ID token), wherever it appears. */
const TOKEN = /\brt_[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+/;
const ACCESS_TOKEN_TTL_MS = 15 * 60_000;

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** How many times the server rotated this session's refresh token, from its audit log. */
async function rotations(sessionId: string): Promise<number> {
  const response = await fetch(`${stack.authUrl}/v1/admin/audit-events?limit=100`, { headers: { 'X-API-Key': ADMIN_API_KEY } });
  expect(response.status).toBe(200);
  const { data } = (await response.json()) as { data: { type: string; session_id: string | null }[] };
  return data.filter((event) => event.type === 'session_refreshed' && event.session_id === sessionId).length;
}

interface Answer {
  status: number;
  body: string;
}

describe('the BFF in Chromium', () => {
  test('When the page fires 20 requests at once just after the access token expired, then the session is refreshed once, every request is served, and ada stays signed in', async () => {
    const context = await browser.newContext();
    const bodies: string[] = [];
    context.on('response', (response) => {
      void response.text().then(
        (text) => void bodies.push(text),
        () => undefined,
      );
    });
    const page = await context.newPage();
    await page.goto(stack.appUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.locator('#username').fill('ada');
    await page.locator('#password').fill('password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${stack.appUrl}/`);
    await expect.poll(() => page.textContent('h1')).toBe('Hello, Ada Lovelace');

    const cookieHeader = (await context.cookies(stack.appUrl)).map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
    const before = await stack.bff.getSession(new Headers({ cookie: cookieHeader }));
    if (!before) throw new Error('no session after sign-in');
    const sessionId = before.session.id;
    expect(await rotations(sessionId)).toBe(0);

    stack.clock.advance(ACCESS_TOKEN_TTL_MS + 1_000);
    const callsBefore = stack.calls.length;
    const answers = await page.evaluate<Answer[]>(`Promise.all(Array.from({ length: 20 }, async () => {
      const response = await fetch('/api/me', { credentials: 'same-origin' });
      return { status: response.status, body: await response.text() };
    }))`);
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(answers.map((answer) => JSON.parse(answer.body) as unknown)).toEqual(Array(20).fill({ name: 'Ada Lovelace', email: 'ada@example.com' }));
    expect(await rotations(sessionId)).toBe(1);
    expect(stack.calls.slice(callsBefore).filter((path) => path === '/v1/refresh')).toHaveLength(1);

    // Not signed out: a reload is rendered on the rotated tokens, without another refresh.
    const reloaded = await page.reload();
    expect(await reloaded!.text()).toContain('Hello, Ada Lovelace');
    expect(await rotations(sessionId)).toBe(1);

    // Neither the first access token nor the rotated one, nor any refresh token, is anywhere a script or a body could read it.
    const after = await stack.bff.getSession(new Headers({ cookie: cookieHeader }));
    expect(after?.session.id).toBe(sessionId);
    const accessTokens = [before.accessToken, after!.accessToken];
    const storage = await page.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })');
    expect(storage).toBe(JSON.stringify({ local: {}, session: {}, cookie: '' }));
    for (const body of answers.map((answer) => answer.body)) {
      expect(body).not.toMatch(TOKEN);
      for (const accessToken of accessTokens) expect(body).not.toContain(accessToken);
    }
    await expect.poll(() => bodies.length).toBeGreaterThan(3);
    expect(bodies.filter((body) => TOKEN.test(body) || accessTokens.some((accessToken) => body.includes(accessToken)))).toEqual([]);
    await context.close();
  });
});
