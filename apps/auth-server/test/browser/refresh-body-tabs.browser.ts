import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Auth } from '@aimable/auth-client';
import { startHarness, type Harness } from '../support/harness.js';
import { API_KEY, tenantsWith } from '../support/tenants.js';

/**
 * The client with the refresh token in the body, in tabs of one Chromium.
 * A duplicated tab starts with a copy of the tab's sessionStorage, refresh
 * token included; the tenant forgives no reuse (no grace window), so a
 * token redeemed by both tabs ends the session at once.
 */

const ACCESS_TOKEN_SECONDS = 2;
/** The built client and the generated SDK it calls (`pnpm test:browser` builds them first), served as the modules a bundler would take. */
const CLIENT_DIST = fileURLToPath(new URL('../../../../packages/client/dist/', import.meta.url));
const SDK_DIST = fileURLToPath(new URL('../../../../openapi/dist/', import.meta.url));

let h: Harness;
let app: Server;
let browser: Browser;
let appOrigin: string;

/** A single-page app on the client: it finishes a sign-in on its callback path, and restores the session anywhere else. */
function appHtml(api: string): string {
  return `<!doctype html><meta charset="utf-8"><title>app</title><p id="state" data-state="loading"></p>
<script type="importmap">{ "imports": { "@aimable/auth-openapi/unbound-sdk": "/sdk/unbound-sdk.js" } }</script>
<script type="module">
import { createAuth } from '/client/auth.js';
// The page's own fetch, as an app may pass it: the browser refuses it called with another \`this\` than the window.
const auth = createAuth({ baseUrl: ${JSON.stringify(api)}, tenantId: 'alpha', apiKey: ${JSON.stringify(API_KEY)}, refreshTokenDelivery: 'body', fetch: window.fetch });
window.auth = auth;
const show = () => { document.getElementById('state').dataset.state = auth.session ? 'signed-in' : 'signed-out'; };
auth.onAuthStateChange(show);
if (location.pathname === '/auth/callback') await auth.handleRedirectCallback();
else await auth.restore();
show();
</script>`;
}

beforeAll(async () => {
  app = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    const [, folder, module] = /^\/(client|sdk)\/((?:gen(?:-unbound)?\/)?[\w.-]+\.js)$/.exec(path) ?? [];
    if (!module) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(appHtml(h.url));
      return;
    }
    readFile(`${folder === 'sdk' ? SDK_DIST : CLIENT_DIST}${module}`).then(
      (code) => res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(code),
      () => res.writeHead(404).end(),
    );
  });
  // On a port of its own choosing, taken before the tenant names it: no other process can take it meanwhile.
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', () => resolve()));
  appOrigin = `http://localhost:${(app.address() as AddressInfo).port}`;
  h = await startHarness({
    tenants: tenantsWith({
      alpha: {
        redirect_uris: [`${appOrigin}/auth/callback`],
        session_policy: { access_token_ttl_seconds: ACCESS_TOKEN_SECONDS, refresh_reuse_grace_seconds: 0 },
      },
    }),
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  app?.close();
  await h?.close();
});

const reaches = (page: Page, state: 'signed-in' | 'signed-out') => page.locator(`[data-state="${state}"]`).waitFor({ state: 'attached', timeout: 20_000 });
const signedIn = (page: Page) => reaches(page, 'signed-in');
/** Runs `run` in the page on its client, with `arg` (this package's TypeScript knows no DOM, so the page's globals stay in the page). */
const inApp = <T, A = undefined>(page: Page, run: (auth: Auth, arg: A) => T | Promise<T>, arg?: A) => page.evaluate(`(${run.toString()})(window.auth, ${JSON.stringify(arg)})`) as Promise<T>;
const sessionOf = (page: Page) => inApp(page, (auth) => auth.session?.session.id);
/** The tabs refresh at once; each answers the access token it ends with. */
const refreshAll = (pages: Page[]) => Promise.all(pages.map((page) => inApp(page, async (auth) => (await auth.refresh()).accessToken)));
/** The security events the server logged, by name. */
const events = (name: string) => h.logs.filter((line) => (JSON.parse(line) as { event?: string }).event === name).length;

/** Signs in on the local identity provider, in a tab that starts with nothing stored. */
async function signIn(context: BrowserContext): Promise<Page> {
  // The provider's own login cookie would skip its form.
  await context.clearCookies();
  const page = await context.newPage();
  await page.goto(`${appOrigin}/`);
  await reaches(page, 'signed-out');
  await inApp(page, (auth, redirectUri) => void auth.signIn('dev', { redirectUri }), `${appOrigin}/auth/callback`);
  await page.locator('#username').fill('ada');
  await page.locator('#password').fill('password');
  await page.click('button[type=submit]');
  await signedIn(page);
  return page;
}

/** Opens the page again from itself, as "Duplicate tab" does: the new tab starts with a copy of its sessionStorage. */
async function duplicate(page: Page): Promise<Page> {
  const [copy] = await Promise.all([page.context().waitForEvent('page'), page.evaluate("void window.open(location.origin + '/')")]);
  await signedIn(copy);
  return copy;
}

describe('tabs with the refresh token in the body', () => {
  test('When a signed-in tab is duplicated and both tabs refresh, then each token is redeemed once and both stay signed in on the one session', async () => {
    const context = await browser.newContext();
    const first = await signIn(context);
    const second = await duplicate(first);
    const session = await sessionOf(first);
    // The copy restored the session from the token it was given, not from a sign-in of its own.
    expect(await sessionOf(second)).toBe(session);
    expect(events('session_created')).toBe(1);

    // At once, and one after the other: the tab that waits takes the grant the other got.
    for (let round = 0; round < 3; round += 1) {
      const [a, b] = await refreshAll([first, second]);
      expect(a).toBe(b);
    }
    for (const page of [first, second]) expect(await inApp(page, async (auth) => (await auth.refresh()).session.id)).toBe(session);

    // The scheduled refreshes of both tabs come due together, a few times over.
    await first.waitForTimeout(ACCESS_TOKEN_SECONDS * 2_500);
    for (const page of [first, second]) {
      expect(await page.locator('#state').getAttribute('data-state')).toBe('signed-in');
      expect(await sessionOf(page)).toBe(session);
    }
    // The server still knows the session: it was never revoked. (Fresh access tokens: `exp` is in whole seconds, so one may lapse before its refresh.)
    await refreshAll([first, second]);
    for (const page of [first, second]) expect(await inApp(page, async (auth) => (await auth.currentSession()).session.id)).toBe(session);
    // A reload restores from the token its tab holds, which the other tab holds too.
    await second.reload();
    await signedIn(second);
    const [a, b] = await refreshAll([first, second]);
    expect(a).toBe(b);
    expect(events('session_refreshed')).toBeGreaterThanOrEqual(8);
    expect(events('refresh_token_reused')).toBe(0);
    await context.close();
  });

  test('When two tabs signed in each on their own, then each keeps its own session while a copy of one follows it', async () => {
    const context = await browser.newContext();
    const first = await signIn(context);
    const copy = await duplicate(first);
    const other = await signIn(context);
    const [mine, theirs] = [await sessionOf(first), await sessionOf(other)];
    expect(theirs).not.toBe(mine);

    await refreshAll([first, copy, other]);
    for (const page of [first, copy, other]) await inApp(page, (auth) => auth.refresh().then(() => undefined));
    expect([await sessionOf(first), await sessionOf(copy), await sessionOf(other)]).toEqual([mine, mine, theirs]);

    // Signing out in the copy ends the session in both tabs that hold it, and not in the other one.
    await inApp(copy, (auth) => auth.signOut());
    await reaches(first, 'signed-out');
    expect(await inApp(other, async (auth) => (await auth.refresh()).session.id)).toBe(theirs);
    expect(events('refresh_token_reused')).toBe(0);
    await context.close();
  });

  test('When a copy missed the grant of the token it holds (it was still loading), then it asks the tab that redeemed it and takes that grant', async () => {
    const context = await browser.newContext();
    const first = await signIn(context);
    // The copy's client is held back: the copy has the token in its sessionStorage, and nothing listening yet.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loading!: () => void;
    const requested = new Promise<void>((resolve) => (loading = resolve));
    await context.route('**/client/auth.js', async (route) => {
      loading();
      await gate;
      await route.continue();
    });
    const [copy] = await Promise.all([context.waitForEvent('page'), first.evaluate("void window.open(location.origin + '/')")]);
    await requested;
    expect(await copy.evaluate('sessionStorage.length')).toBeGreaterThan(0);
    // The first tab redeems the token both hold while the copy cannot hear of it.
    await inApp(first, async (auth) => (await auth.refresh()).accessToken);
    release();
    await signedIn(copy);
    const [a, b] = await refreshAll([first, copy]);
    expect(a).toBe(b);
    expect(await sessionOf(copy)).toBe(await sessionOf(first));
    expect(events('refresh_token_reused')).toBe(0);
    await context.close();
  });
});
