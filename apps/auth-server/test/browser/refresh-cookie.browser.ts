import { createServer, type Server } from 'node:http';
import { freePort } from '@aimable/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { API_KEY, tenantsWith } from '../support/tenants.js';

let h: Harness;
let page: Server;
let browser: Browser;
let appOrigin: string;

/** A minimal single-page app, as a frontend team would write it against the API. */
function appHtml(api: string, redirectUri: string): string {
  return `<!doctype html><meta charset="utf-8"><title>app</title><pre id="result"></pre>
<script type="module">
const api = ${JSON.stringify(api)};
const redirectUri = ${JSON.stringify(redirectUri)};
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
const show = (value) => { document.getElementById('result').textContent = JSON.stringify(value); };
if (location.pathname === '/') {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem('verifier', verifier);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const start = new URL(api + '/v1/auth/oidc/dev/start');
  start.searchParams.set('frontend_redirect_uri', redirectUri);
  start.searchParams.set('code_challenge', challenge);
  start.searchParams.set('code_challenge_method', 'S256');
  // fetch cannot follow the cross-origin 302 to the provider, so the app asks for the JSON variant and navigates.
  const answer = await fetch(start, { headers: { 'X-Tenant-Id': 'alpha', Accept: 'application/json' }, credentials: 'include' });
  location.assign((await answer.json()).authorization_url);
} else {
  const query = new URLSearchParams(location.search);
  const created = await fetch(api + '/v1/auth/oidc/session', {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 'alpha', 'Idempotency-Key': crypto.randomUUID() },
    body: JSON.stringify({ code: query.get('code'), state: query.get('state'), code_verifier: sessionStorage.getItem('verifier') }),
  });
  const grant = await created.json();
  const refreshed = await fetch(api + '/v1/refresh', { method: 'POST', credentials: 'include', headers: { 'X-API-Key': ${JSON.stringify(API_KEY)} } });
  const second = await refreshed.json();
  const again = await fetch(api + '/v1/refresh', { method: 'POST', credentials: 'include', headers: { 'X-API-Key': ${JSON.stringify(API_KEY)} } });
  show({ created: created.status, refreshed: refreshed.status, again: again.status, sameSession: grant.session.id === second.session.id,
    bodyHasRefreshToken: 'refresh_token' in grant || 'refresh_token' in second, visibleCookies: document.cookie });
}
</script>`;
}

beforeAll(async () => {
  const pagePort = await freePort();
  appOrigin = `http://localhost:${pagePort}`;
  const redirectUri = `${appOrigin}/auth/callback`;
  h = await startHarness({ tenants: tenantsWith({ alpha: { redirect_uris: [redirectUri] } }) });
  page = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(appHtml(h.url, redirectUri));
  });
  await new Promise<void>((resolve) => page.listen(pagePort, '127.0.0.1', () => resolve()));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  page?.close();
  await h?.close();
});

describe('in a real browser', () => {
  test('When a SPA signs in and refreshes with credentials, then the HttpOnly per-tenant cookie carries the session across origins, invisible to scripts', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${appOrigin}/`);
    await tab.waitForSelector('#username');
    await tab.fill('#username', 'ada');
    await tab.fill('#password', 'password');
    await tab.click('button[type=submit]');
    await tab.waitForURL(`${appOrigin}/auth/callback**`);
    await tab.waitForFunction("document.getElementById('result').textContent !== ''");
    const result = JSON.parse((await tab.textContent('#result'))!) as Record<string, unknown>;
    expect(result).toEqual({ created: 201, refreshed: 200, again: 200, sameSession: true, bodyHasRefreshToken: false, visibleCookies: '' });

    const cookies = await context.cookies(h.url);
    const refresh = cookies.find((c) => c.name === '__Host-aimable_refresh_alpha');
    expect(refresh).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    await context.close();
  });
});
