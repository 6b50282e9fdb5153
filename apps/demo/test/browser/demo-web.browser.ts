import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMock, type RunningMock } from '@aimable/auth-mock';
import { loadServerConfig, startServer, type RunningServer } from '@aimable/auth-server';
import { startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_API_KEY, DEMO_APPLE_KEY_ENV, DEMO_CLIENT_SECRET, DEMO_CLIENT_SECRET_ENV, demoAppleKey, demoDevIdpClient, demoFakeApple, demoTenantsFile } from '../../src/demo-tenant.js';
import { serveDemoWeb, type RunningDemoWeb } from '../../src/web.js';

/**
 * The demo app (`apps/demo-web`), clicked through in Chromium as a newcomer
 * would: against the real server and local identity provider, then against
 * the mock of the contract.
 */

const ACCESS_TOKEN_SECONDS = 4;

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
});

const state = (page: Page) => page.locator('[data-state]').getAttribute('data-state');

async function waitFor(page: Page, wanted: 'signed-in' | 'signed-out'): Promise<void> {
  await page.locator(`[data-state="${wanted}"]`).waitFor({ timeout: 20_000 });
}

/** Opens the app in a new tab of the context, and records the API requests it makes. */
async function open(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

describe('the demo app against the server', () => {
  let idp: RunningDevIdp;
  let server: RunningServer;
  let web: RunningDemoWeb;
  const refreshes: string[] = [];
  const external: string[] = [];

  beforeAll(async () => {
    const [apiPort, idpPort, webPort] = [await freePort(), await freePort(), await freePort()];
    const api = `http://localhost:${apiPort}`;
    const webOrigin = `http://localhost:${webPort}`;
    const appleKey = demoAppleKey();
    idp = await startDevIdp({
      port: idpPort,
      issuer: `http://localhost:${idpPort}`,
      clients: [demoDevIdpClient(api, webOrigin)],
      fakes: { apple: demoFakeApple(api, appleKey.publicKey) },
    });
    const tenants = demoTenantsFile(idp.issuer, webOrigin);
    // Short-lived access tokens: the scheduled refresh runs several times during the test.
    tenants.tenants[0]!.session_policy = { access_token_ttl_seconds: ACCESS_TOKEN_SECONDS };
    const config = loadServerConfig(
      { PORT: String(apiPort), HOST: '127.0.0.1', AUTH_DATA_DIR: mkdtempSync(join(tmpdir(), 'aimable-demo-web-')) },
      { fallbackTenants: { file: tenants, secrets: { [DEMO_CLIENT_SECRET_ENV]: DEMO_CLIENT_SECRET, [DEMO_APPLE_KEY_ENV]: appleKey.privateKeyPem } }, plaintextKeys: 'allow' },
    );
    server = await startServer({ config, logDestination: { write: () => undefined } });
    web = await serveDemoWeb({ port: webPort, config: { apiBaseUrl: api, tenantId: 'demo', apiKey: DEMO_API_KEY } });
  });

  afterAll(async () => {
    await web?.close();
    await server?.close();
    await idp?.close();
  });

  async function signIn(context: BrowserContext): Promise<Page> {
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/v1/refresh') refreshes.push(request.url());
      if (!['localhost', '127.0.0.1'].includes(url.hostname)) external.push(request.url());
    });
    const page = await open(context, web.url);
    await waitFor(page, 'signed-out');
    await page.getByRole('button', { name: 'Sign in with Local identity provider' }).click();
    await page.locator('#username').fill('ada');
    await page.locator('#password').fill('password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitFor(page, 'signed-in');
    return page;
  }

  test('When a newcomer signs in as ada, reloads, works in two tabs, revokes another session and signs out, then each step shows what happened', async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    expect(await page.locator('.user').textContent()).toBe('Ada Lovelace');
    // The callback's code and state are gone from the address bar.
    expect(page.url()).toBe(`${web.url}/`);

    // A reload stays signed in: the HttpOnly cookie refreshes the session.
    await page.reload();
    await waitFor(page, 'signed-in');
    const sessionId = await page.locator('.session-id').textContent();

    // Two tabs whose access tokens expire together both stay signed in, on the same session.
    const second = await open(context, web.url);
    await waitFor(second, 'signed-in');
    refreshes.length = 0;
    const watched = Date.now();
    await page.waitForTimeout(ACCESS_TOKEN_SECONDS * 2_500);
    // Counted at once: refreshes go on while the checks below run, slowly on a busy machine.
    const renewed = refreshes.length;
    // The client renews a tenth of a lifetime before expiry: one renewal per 0.9 lifetimes for both tabs, not one per tab.
    const expiries = Math.ceil((Date.now() - watched) / (ACCESS_TOKEN_SECONDS * 900));
    for (const tab of [page, second]) {
      expect(await state(tab)).toBe('signed-in');
      expect(await tab.locator('.session-id').textContent()).toBe(sessionId);
      expect(Number.parseInt((await tab.locator('.expiry').textContent())!, 10)).toBeGreaterThan(0);
    }
    // Each expiry was renewed once for both tabs, not once per tab.
    expect(renewed).toBeGreaterThanOrEqual(2);
    expect(renewed).toBeLessThanOrEqual(expiries);
    await second.close();

    // Another device signs in; this one revokes it, and the other device is signed out on its next load.
    const otherDevice = await browser.newContext();
    const other = await signIn(otherDevice);
    await page.reload();
    await waitFor(page, 'signed-in');
    await expect.poll(() => page.locator('.sessions li').count()).toBe(2);
    await page.locator('.sessions li', { hasNotText: '(this one)' }).getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.locator('.sessions li').count()).toBe(1);
    await other.reload();
    await waitFor(other, 'signed-out');
    await otherDevice.close();

    // Sign-out ends the session: a reload is signed out.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitFor(page, 'signed-out');
    await page.reload();
    await waitFor(page, 'signed-out');
    await context.close();
    expect(external).toEqual([]);
  });

  test('When a newcomer signs in with Apple, then the fake Apple posts the answer back as a form and the app is signed in with the name Apple gave', async () => {
    const context = await browser.newContext();
    const posted: string[] = [];
    context.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/v1/auth/oidc/apple/callback') posted.push(request.headers()['content-type'] ?? '');
    });
    const page = await open(context, web.url);
    await waitFor(page, 'signed-out');
    await page.getByRole('button', { name: 'Sign in with Apple' }).click();
    await page.getByRole('heading', { name: 'Sign in with Apple' }).waitFor();
    await page.locator('#username').fill('grace');
    await page.locator('#password').fill('password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitFor(page, 'signed-in');
    expect(posted).toEqual(['application/x-www-form-urlencoded']);
    expect(await page.locator('.user').textContent()).toBe('Grace Hopper');
    expect(page.url()).toBe(`${web.url}/`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitFor(page, 'signed-out');
    await context.close();
  });

  test('When ada signs out everywhere, then the provider asks to confirm, the app is back signed out, and signing in asks for the password again', async () => {
    const context = await browser.newContext();
    let page = await signIn(context);
    // A plain sign-out leaves the provider's session: signing in again goes straight through, without the password.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitFor(page, 'signed-out');
    await page.getByRole('button', { name: 'Sign in with Local identity provider' }).click();
    await waitFor(page, 'signed-in');
    const sessionId = await page.locator('.session-id').textContent();

    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    // The provider's own sign-out page, then back to the app's post-logout URI.
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${web.url}/`);
    await waitFor(page, 'signed-out');
    expect((await server.store.findSession('demo', sessionId!))?.revokedAt).not.toBeNull();

    await page.getByRole('button', { name: 'Sign in with Local identity provider' }).click();
    await page.locator('#password').waitFor({ timeout: 20_000 });
    expect(page.url().startsWith(idp.issuer)).toBe(true);
    await page.locator('#username').fill('ada');
    await page.locator('#password').fill('password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitFor(page, 'signed-in');
    page = await open(context, web.url);
    await waitFor(page, 'signed-in');
    await context.close();
    expect(external).toEqual([]);
  });

  test('When the API reference is opened from the app, then it renders the contract with nothing fetched from elsewhere', async () => {
    const context = await browser.newContext();
    // What the browser actually fetched (the page's policy blocks anything else before it leaves).
    const fetched: string[] = [];
    context.on('response', (response) => void fetched.push(response.url()));
    const page = await open(context, web.url);
    await waitFor(page, 'signed-out');
    const href = await page.getByRole('link', { name: 'API reference' }).getAttribute('href');
    await page.goto(href!);
    await page.getByText('Aimable Auth API').first().waitFor({ timeout: 30_000 });
    await page.getByText('Login flow').first().waitFor();
    expect(fetched.some((url) => url.endsWith('/openapi.yaml'))).toBe(true);
    expect(fetched.filter((url) => !/^http:\/\/(localhost|127\.0\.0\.1):/.test(url) && !url.startsWith('data:'))).toEqual([]);
    await context.close();
  });
});

describe('the demo app against the mock', () => {
  let mock: RunningMock;
  let web: RunningDemoWeb;

  beforeAll(async () => {
    mock = await startMock({ port: await freePort() });
    web = await serveDemoWeb({ port: await freePort(), config: { apiBaseUrl: mock.url.replace('127.0.0.1', 'localhost'), tenantId: 'demo', apiKey: DEMO_API_KEY, mock: true } });
  });

  afterAll(async () => {
    await web?.close();
    await mock?.close();
  });

  test('When the same clicks go to the mock, then the app signs in with the examples, stays signed in on reload, and signs out', async () => {
    const context = await browser.newContext();
    const page = await open(context, web.url);
    await waitFor(page, 'signed-out');
    await page.locator('[data-provider]').first().click();
    await waitFor(page, 'signed-in');
    expect(page.url()).toBe(`${web.url}/`);
    expect(await page.locator('.user').textContent()).toBeTruthy();
    await page.reload();
    await waitFor(page, 'signed-in');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitFor(page, 'signed-out');
    await page.reload();
    await waitFor(page, 'signed-out');
    await context.close();
  });

  test('When a mock scenario is picked, then the app shows that error state on the session list, until it is put back', async () => {
    const context = await browser.newContext();
    const page = await open(context, web.url);
    await waitFor(page, 'signed-out');
    await page.locator('[data-provider]').first().click();
    await waitFor(page, 'signed-in');
    await page.getByLabel('Mock scenario').selectOption({ label: 'Session list: 429 rate_limited' });
    await waitFor(page, 'signed-in');
    await expect.poll(() => page.locator('.sessions [role=alert]').textContent(), { timeout: 40_000 }).toMatch(/rate_limited/);
    await page.getByLabel('Mock scenario').selectOption({ label: 'Session list: 503 service_unavailable' });
    await waitFor(page, 'signed-in');
    await expect.poll(() => page.locator('.sessions [role=alert]').textContent(), { timeout: 40_000 }).toMatch(/service_unavailable/);
    await page.getByLabel('Mock scenario').selectOption({ label: 'No error' });
    await waitFor(page, 'signed-in');
    await expect.poll(() => page.locator('.sessions [data-session]').count()).toBeGreaterThan(0);
    expect(await page.locator('.sessions [role=alert]').count()).toBe(0);
    await context.close();
  }, 90_000);
});
