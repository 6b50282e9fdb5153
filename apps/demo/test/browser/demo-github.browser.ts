import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@aimable/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDemo, type RunningDemo } from '../support/start-demo.js';

/**
 * The demo app's GitHub button, clicked through in Chromium, as `pnpm start`
 * serves it: through dev-idp's fake of GitHub.
 */

let browser: Browser;
let demo: RunningDemo;
let web: string;
const dataDir = mkdtempSync(join(tmpdir(), 'aimable-demo-github-'));

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const [port, idpPort, webPort, reactPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  web = `http://localhost:${webPort}`;
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
  await browser?.close();
  await demo?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the demo app, signing in with GitHub', () => {
  test('When a newcomer clicks GitHub and picks ada at the fake, then the app shows ada signed in', async () => {
    const context = await browser.newContext();
    const external: string[] = [];
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (!['localhost', '127.0.0.1'].includes(url.hostname)) external.push(request.url());
    });
    const page = await context.newPage();
    await page.goto(web);
    await page.locator('[data-state="signed-out"]').waitFor({ timeout: 20_000 });

    await page.getByRole('button', { name: 'Sign in with GitHub' }).click();
    await page.getByRole('heading', { name: 'Sign in to GitHub' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/github/login/oauth/authorize');
    await page.getByRole('button', { name: 'ada (Ada Lovelace)' }).click();

    await page.locator('[data-state="signed-in"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.user').textContent()).toBe('Ada Lovelace');
    expect(page.url()).toBe(`${web}/`);
    // The avatar URL is example.com's (reserved): nothing else left this machine.
    expect(external.filter((url) => !url.startsWith('https://example.com/'))).toEqual([]);
    await context.close();
  });
});
