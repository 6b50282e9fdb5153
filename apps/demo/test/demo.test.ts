import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signInAt } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { describe, expect, test } from 'vitest';
import { startDemo } from './support/start-demo.js';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe('the demo (what `pnpm start` runs)', () => {
  test('When started with the embedded defaults, then the demo tenant, the local provider and the demo key work, and SIGTERM stops it cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aimable-main-'));
    const [port, idpPort, webPort, reactPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', tsx, main], {
      env: { ...process.env, PORT: String(port), DEV_IDP_PORT: String(idpPort), DEMO_WEB_PORT: String(webPort), DEMO_REACT_PORT: String(reactPort), AUTH_METRICS_PORT: String(metricsPort), AUTH_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready:\n${output}`)), 30_000);
        child.stdout.on('data', () => {
          if (output.includes('test users')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
      });
      expect(output).toContain('ak_demo_local_only_0c7f3b9a6e2d41f8');
      // The operator's side: metrics on the admin listener, and the audit log with the published admin key.
      expect(output).toContain(`metrics: http://127.0.0.1:${metricsPort}/metrics`);
      expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toContain('auth_http_requests_total');
      const audit = await fetch(`http://localhost:${port}/v1/admin/audit-events`, { headers: { 'X-API-Key': 'demo-admin-key-local-only-7d3e9a51c2b84f60' } });
      expect(audit.status).toBe(200);
      // The demo app is served, told where the API is and which tenant it signs in to.
      expect(output).toContain(`open http://localhost:${webPort}`);
      const app = await fetch(`http://localhost:${webPort}/auth/callback?code=x&state=y`);
      expect(await app.text()).toContain('<main id="app"');
      expect(await (await fetch(`http://localhost:${webPort}/config.json`)).json()).toEqual({ apiBaseUrl: `http://localhost:${port}`, tenantId: 'demo', apiKey: 'ak_demo_local_only_0c7f3b9a6e2d41f8' });
      const providers = await fetch(`http://localhost:${port}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'demo' } });
      expect(await providers.json()).toEqual({
        data: [
          { id: 'dev', display_name: 'Local identity provider', type: 'oidc' },
          { id: 'github', display_name: 'GitHub', type: 'github' },
          { id: 'apple', display_name: 'Apple', type: 'apple' },
          { id: 'microsoft', display_name: 'Microsoft', type: 'microsoft' },
        ],
      });
      // The demo requires frontend PKCE, and says what to send without it.
      const api = `http://localhost:${port}`;
      const withoutPkce = await fetch(`${api}/v1/auth/oidc/dev/start?tenant=demo&frontend_redirect_uri=http://localhost:5173/auth/callback`, { redirect: 'manual' });
      expect(withoutPkce.status).toBe(400);
      expect(((await withoutPkce.json()) as { detail: string }).detail).toContain('code_challenge');
      // A plain navigation (no headers) signs ada in; the session needs no tenant header, only the verifier.
      const { verifier, challenge } = pkcePair();
      const start = await fetch(`${api}/v1/auth/oidc/dev/start?tenant=demo&frontend_redirect_uri=http://localhost:5173/auth/callback&code_challenge=${challenge}&code_challenge_method=S256`, { redirect: 'manual' });
      expect(start.status).toBe(302);
      expect(start.headers.get('location')).toMatch(new RegExp(`^http://localhost:${idpPort}/auth\\?`));
      const back = new URL((await fetch(await signInAt(start.headers.get('location')!, { username: 'ada', password: 'password' }), { redirect: 'manual' })).headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe('http://localhost:5173/auth/callback');
      const session = await fetch(`${api}/v1/auth/oidc/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
        body: JSON.stringify({ code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: verifier }),
      });
      expect(session.status, output).toBe(201);
      expect(((await session.json()) as { user: { email: string } }).user.email).toBe('ada@example.com');
      const refresh = await fetch(`http://localhost:${port}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_demo_local_only_0c7f3b9a6e2d41f8' } });
      expect((await refresh.json()) as { code: string }).toMatchObject({ code: 'invalid_refresh_token' });
      // Only the published demo key opens refresh: any other is refused as a key, before the token is looked at.
      for (const key of ['ak_demo_local_only_0c7f3b9a6e2d41f9', 'ak_demo', '']) {
        const wrong = await fetch(`http://localhost:${port}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': key } });
        expect(wrong.status).toBe(401);
        expect(((await wrong.json()) as { code: string }).code).toBe('invalid_api_key');
      }
      expect(statSync(join(dataDir, 'auth.sqlite')).isFile()).toBe(true);
      // The keys are in the database, in a directory private to the server.
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(existsSync(join(dataDir, 'keys.json'))).toBe(false);

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test('When started, then the React demo app is served on its port, told where the API is, and its origin may sign in', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aimable-main-'));
    const [port, idpPort, webPort, reactPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const demo = await startDemo([], { PORT: String(port), DEV_IDP_PORT: String(idpPort), DEMO_WEB_PORT: String(webPort), DEMO_REACT_PORT: String(reactPort), AUTH_METRICS_PORT: String(metricsPort), AUTH_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    try {
      const api = `http://localhost:${port}`;
      const react = `http://localhost:${reactPort}`;
      expect(demo.output()).toContain(`the same app in React: ${react}`);
      expect(await (await fetch(`${react}/auth/callback?code=x&state=y`)).text()).toContain('<div id="root">');
      expect(await (await fetch(`${react}/config.json`)).json()).toEqual({ apiBaseUrl: api, tenantId: 'demo', apiKey: 'ak_demo_local_only_0c7f3b9a6e2d41f8' });
      // Its callback is a redirect URI of the demo tenant, on the port it was given and on its default one, and its origin may call the API.
      const { challenge } = pkcePair();
      for (const origin of [react, 'http://localhost:5174']) {
        const start = await fetch(`${api}/v1/auth/oidc/dev/start?tenant=demo&frontend_redirect_uri=${origin}/auth/callback&code_challenge=${challenge}&code_challenge_method=S256`, { redirect: 'manual' });
        expect(start.status).toBe(302);
        const preflight = await fetch(`${api}/v1/refresh`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key' } });
        expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
      }
    } finally {
      await demo.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test('When started with --mock, then both demo apps are served against the mock', async () => {
    const [mockPort, webPort, reactPort] = [await freePort(), await freePort(), await freePort()];
    const demo = await startDemo(['--mock'], { MOCK_PORT: String(mockPort), DEMO_WEB_PORT: String(webPort), DEMO_REACT_PORT: String(reactPort) });
    try {
      // `mock: true` lets the apps offer the mock's scenarios (an error on demand).
      const config = { apiBaseUrl: `http://localhost:${mockPort}`, tenantId: 'demo', apiKey: 'ak_demo_local_only_0c7f3b9a6e2d41f8', mock: true };
      expect(await (await fetch(`http://localhost:${webPort}/config.json`)).json()).toEqual(config);
      expect(await (await fetch(`http://localhost:${reactPort}/config.json`)).json()).toEqual(config);
      expect(await (await fetch(`http://localhost:${reactPort}/`)).text()).toContain('<div id="root">');
      expect((await fetch(`${config.apiBaseUrl}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'demo' } })).status).toBe(200);
    } finally {
      await demo.stop();
    }
  }, 60_000);

  test('When a tenants file is given, then `pnpm start` runs those tenants: no demo tenant, no demo key, no local provider', async () => {
    const { writeFileSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'aimable-demo-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: [
          {
            id: 'acme',
            providers: { g: { display_name: 'G', issuer: 'https://accounts.google.com', client_id: 'c', client_secret_env: 'G_SECRET' } },
            redirect_uris: ['https://app.acme.example/cb'],
            api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }],
          },
        ],
      }),
    );
    const [port, idpPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', tsx, main], {
      env: { ...process.env, AUTH_TENANTS_FILE: file, G_SECRET: 'x', PORT: String(port), DEV_IDP_PORT: String(idpPort), AUTH_DATA_DIR: dir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const api = `http://localhost:${port}`;
      for (let i = 0; i < 100; i += 1) {
        if (await fetch(`${api}/healthz`).then((r) => r.ok, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await fetch(`${api}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'acme' } })).status).toBe(200);
      expect(((await (await fetch(`${api}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'demo' } })).json()) as { code: string }).code).toBe('unknown_tenant');
      const demoKey = await fetch(`${api}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_demo_local_only_0c7f3b9a6e2d41f8' } });
      expect(((await demoKey.json()) as { code: string }).code).toBe('invalid_api_key');
      await expect(fetch(`http://localhost:${idpPort}/.well-known/openid-configuration`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
