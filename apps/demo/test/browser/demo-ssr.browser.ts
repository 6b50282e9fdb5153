import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@aimable/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_ADMIN_API_KEY } from '../../src/demo-tenant.js';
import { startDemo, type RunningDemo } from '../support/start-demo.js';

/**
 * The server-rendered demo app (`apps/demo-ssr`, Next.js on the BFF of
 * `@aimable/auth-node`), clicked through in Chromium as `pnpm start`
 * serves it on 3000 (here on a free port, given as `DEMO_SSR_PORT`).
 */

/** A refresh token, or a JWT (an access or ID token), wherever it appears. */
const TOKEN = /\brt_[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+/;

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

describe('the server-rendered demo app, as `pnpm start` serves it', () => {
  let demo: RunningDemo;
  let api: string;
  let ssr: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-demo-ssr-'));

  beforeAll(async () => {
    const [port, idpPort, webPort, reactPort, ssrPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    api = `http://localhost:${port}`;
    ssr = `http://localhost:${ssrPort}`;
    demo = await startDemo([], {
      PORT: String(port),
      DEV_IDP_PORT: String(idpPort),
      DEMO_WEB_PORT: String(webPort),
      DEMO_REACT_PORT: String(reactPort),
      DEMO_SSR_PORT: String(ssrPort),
      AUTH_METRICS_PORT: String(metricsPort),
      AUTH_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    });
    expect(demo.output()).toContain(`rendered on the server (Next.js, tokens kept by its server): ${ssr}`);
  });

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('When ada signs in, then the HTML the server sends names her, no token reaches the browser, and sign-out ends the session on the server', async () => {
    const context = await browser.newContext();
    const bodies: string[] = [];
    context.on('response', (response) => {
      void response.text().then(
        (text) => void bodies.push(text),
        () => undefined,
      );
    });
    const page = await context.newPage();
    await page.goto(ssr);
    await page.getByRole('link', { name: 'Sign in with Local identity provider' }).click();
    await page.locator('#username').fill('ada');
    await page.locator('#password').fill('password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${ssr}/`);

    // The document as the server sent it, before any script ran.
    const html = await (await page.reload())!.text();
    expect(html).toContain('Ada Lovelace');
    expect(await (await page.request.get(`${ssr}/api/me`)).json()).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com' });
    const account = await (await page.goto(`${ssr}/account`))!.text();
    const sessionId = /ses_[A-Za-z0-9]+/.exec(account)?.[0];
    expect(sessionId).toBeDefined();

    // What the browser holds: one HttpOnly cookie of the app, and nothing a script or a body could leak.
    // Cookies are not kept apart by port: those of the local provider, on another port of localhost, are here too.
    const cookies = await context.cookies(ssr);
    const apps = cookies.filter((cookie) => cookie.name.startsWith('aimable_'));
    expect(apps.map((cookie) => cookie.name)).toEqual(['aimable_session']);
    expect(apps.every((cookie) => cookie.httpOnly && cookie.sameSite === 'Lax')).toBe(true);
    expect(cookies.filter((cookie) => TOKEN.test(cookie.value))).toEqual([]);
    const storage = await page.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })');
    expect(storage).toBe(JSON.stringify({ local: {}, session: {}, cookie: '' }));
    await page.goto(ssr);
    await expect.poll(() => bodies.length).toBeGreaterThan(3);
    expect(bodies.filter((body) => TOKEN.test(body))).toEqual([]);

    // Sign-out: the form posts from the app's page, and the server ends the session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    expect((await context.cookies(ssr)).filter((cookie) => cookie.name.startsWith('aimable_'))).toEqual([]);
    const audit = await fetch(`${api}/v1/admin/audit-events?limit=100`, { headers: { 'X-API-Key': DEMO_ADMIN_API_KEY } });
    const events = ((await audit.json()) as { data: { type: string; session_id: string | null }[] }).data;
    expect(events.some((event) => event.type === 'logout' && event.session_id === sessionId)).toBe(true);
    expect((await page.request.get(`${ssr}/api/me`)).status()).toBe(401);
    await context.close();
  });
});
