import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServerConfig, startServer, type RunningServer } from '@aimable/auth-server';
import { startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_API_KEY, DEMO_APPLE_KEY_ENV, DEMO_CLIENT_SECRET, DEMO_CLIENT_SECRET_ENV, demoAppleKey, demoDevIdpClient, demoFakeApple, demoFakeProviders, demoTenantsFile } from '../../src/demo-tenant.js';
import { serveDemoWeb, type RunningDemoWeb } from '../../src/web.js';

/** The demo app's Microsoft button, clicked through in Chromium: the server, dev-idp's fake of Entra ID, and the demo tenant as `pnpm start` runs them. */

let browser: Browser;
let idp: RunningDevIdp;
let server: RunningServer;
let web: RunningDemoWeb;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const [apiPort, idpPort, webPort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://localhost:${apiPort}`;
  const webOrigin = `http://localhost:${webPort}`;
  const appleKey = demoAppleKey();
  idp = await startDevIdp({
    port: idpPort,
    issuer: `http://localhost:${idpPort}`,
    clients: [demoDevIdpClient(api, webOrigin)],
    fakes: { ...demoFakeProviders(api), apple: demoFakeApple(api, appleKey.publicKey) },
  });
  const config = loadServerConfig(
    { PORT: String(apiPort), HOST: '127.0.0.1', AUTH_DATA_DIR: mkdtempSync(join(tmpdir(), 'aimable-demo-microsoft-')) },
    { fallbackTenants: { file: demoTenantsFile(idp.issuer, webOrigin), secrets: { [DEMO_CLIENT_SECRET_ENV]: DEMO_CLIENT_SECRET, [DEMO_APPLE_KEY_ENV]: appleKey.privateKeyPem } }, plaintextKeys: 'allow' },
  );
  server = await startServer({ config, logDestination: { write: () => undefined } });
  web = await serveDemoWeb({ port: webPort, config: { apiBaseUrl: api, tenantId: 'demo', apiKey: DEMO_API_KEY } });
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await server?.close();
  await idp?.close();
});

describe('the demo app, signing in with Microsoft', () => {
  test("When a user of the allowed directory clicks Microsoft and picks their account, then the app shows them signed in; a user of another directory is not", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(web.url);
    await page.locator('[data-state="signed-out"]').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await page.getByRole('button', { name: 'Ada Lovelace (contoso)' }).click();
    await page.locator('[data-state="signed-in"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.user').textContent()).toBe('Ada Lovelace');
    await context.close();

    const refused = await browser.newContext();
    const other = await refused.newPage();
    await other.goto(web.url);
    await other.locator('[data-state="signed-out"]').waitFor({ timeout: 20_000 });
    await other.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await other.getByRole('button', { name: 'Grace Hopper (fabrikam)' }).click();
    await other.locator('[data-state="signed-out"]').waitFor({ timeout: 20_000 });
    expect(await other.locator('[role="alert"]').textContent()).toContain('invalid_grant');
    await refused.close();
  });
});
