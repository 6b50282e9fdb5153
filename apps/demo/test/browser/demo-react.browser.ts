import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@aimable/testing';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDemo, type RunningDemo } from '../support/start-demo.js';

/**
 * The React demo app (`apps/demo-react`), clicked through in Chromium, as `pnpm start` serves it on 5174
 * (here on a free port, given as `DEMO_REACT_PORT`, beside the other ports of the demo), and as
 * `pnpm demo --mock` serves it.
 */

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

async function waitFor(page: Page, wanted: 'signed-in' | 'signed-out'): Promise<void> {
  await page.locator(`[data-state="${wanted}"]`).waitFor({ timeout: 20_000 });
}

/** Records the requests of the context: the API paths called, and any address other than this machine. */
function record(context: BrowserContext): { api: string[]; external: string[] } {
  const seen = { api: [] as string[], external: [] as string[] };
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/v1/') && request.method() !== 'OPTIONS') seen.api.push(`${request.method()} ${url.pathname}`);
    if (!['localhost', '127.0.0.1'].includes(url.hostname)) seen.external.push(request.url());
  });
  return seen;
}

/** Signs in as ada from the signed-out page, through the local identity provider's form. */
async function signIn(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign in with Local identity provider' }).click();
  await page.locator('#username').fill('ada');
  await page.locator('#password').fill('password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitFor(page, 'signed-in');
}

describe('the React demo app, as `pnpm start` serves it', () => {
  let demo: RunningDemo;
  let react: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-demo-react-'));

  beforeAll(async () => {
    const [port, idpPort, webPort, reactPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    react = `http://localhost:${reactPort}`;
    demo = await startDemo([], {
      PORT: String(port),
      DEV_IDP_PORT: String(idpPort),
      DEMO_WEB_PORT: String(webPort),
      DEMO_REACT_PORT: String(reactPort),
      AUTH_METRICS_PORT: String(metricsPort),
      AUTH_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    });
  });

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('When ada signs in, reloads, revokes another session and signs out, then each step shows what happened, and the callback is redeemed once', async () => {
    const context = await browser.newContext();
    const requests = record(context);
    const page = await context.newPage();
    await page.goto(react);
    await waitFor(page, 'signed-out');
    await signIn(page);
    expect(await page.locator('.user').textContent()).toBe('Ada Lovelace');
    expect(await page.locator('.email').textContent()).toBe('ada@example.com');
    // onRedirectCallback's default took the browser from the callback to /.
    expect(page.url()).toBe(`${react}/`);
    expect(requests.api.filter((request) => request === 'POST /v1/auth/oidc/session')).toHaveLength(1);
    expect(Number.parseInt((await page.locator('.expiry').textContent())!, 10)).toBeGreaterThan(0);
    await expect.poll(() => page.locator('.sessions li').count()).toBe(1);
    const sessionId = await page.locator('.session-id').textContent();

    // A reload stays signed in, on the same session: the HttpOnly cookie refreshes it.
    await page.reload();
    await waitFor(page, 'signed-in');
    expect(await page.locator('.session-id').textContent()).toBe(sessionId);

    // Another device signs in; this one revokes it, and the other device is signed out on its next load.
    const otherDevice = await browser.newContext();
    const other = await otherDevice.newPage();
    await other.goto(react);
    await waitFor(other, 'signed-out');
    await signIn(other);
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
    expect(requests.external).toEqual([]);
  });
});

describe('signing out everywhere in the React demo app, as `pnpm start` serves it', () => {
  let demo: RunningDemo;
  let react: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-demo-react-signout-'));

  beforeAll(async () => {
    const [port, idpPort, webPort, reactPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    react = `http://localhost:${reactPort}`;
    demo = await startDemo([], {
      PORT: String(port),
      DEV_IDP_PORT: String(idpPort),
      DEMO_WEB_PORT: String(webPort),
      DEMO_REACT_PORT: String(reactPort),
      AUTH_METRICS_PORT: String(metricsPort),
      AUTH_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    });
  });

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('When ada signs out everywhere, then dev-idp asks to confirm, the app is back signed out, and signing in asks for the password again', async () => {
    const context = await browser.newContext();
    const requests = record(context);
    const page = await context.newPage();
    await page.goto(react);
    await waitFor(page, 'signed-out');
    await signIn(page);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${react}/`);
    await waitFor(page, 'signed-out');
    await page.getByRole('button', { name: 'Sign in with Local identity provider' }).click();
    await page.locator('#password').waitFor({ timeout: 20_000 });
    await context.close();
    expect(requests.external).toEqual([]);
  });
});

describe('the React demo app, as `pnpm demo --mock` serves it', () => {
  let demo: RunningDemo;
  let react: string;

  beforeAll(async () => {
    const [mockPort, webPort, reactPort] = [await freePort(), await freePort(), await freePort()];
    react = `http://localhost:${reactPort}`;
    demo = await startDemo(['--mock'], { MOCK_PORT: String(mockPort), DEMO_WEB_PORT: String(webPort), DEMO_REACT_PORT: String(reactPort) });
  });

  afterAll(async () => {
    await demo?.stop();
  });

  test('When the same clicks go to the mock, then the app signs in with the examples, stays signed in on reload, and signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(react);
    await waitFor(page, 'signed-out');
    await page.locator('[data-provider]').first().click();
    await waitFor(page, 'signed-in');
    expect(page.url()).toBe(`${react}/`);
    expect(await page.locator('.user').textContent()).toBeTruthy();
    await page.reload();
    await waitFor(page, 'signed-in');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitFor(page, 'signed-out');
    await page.reload();
    await waitFor(page, 'signed-out');
    await context.close();
  });
});
