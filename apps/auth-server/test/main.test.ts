import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { signInAt } from '@aimable/dev-idp';
import { freePort, pkcePair } from './support/harness.js';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('the entry point (what `pnpm start` runs)', () => {
  test('When started with the embedded defaults, then the demo tenant, the local provider and the demo key work, and SIGTERM stops it cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aimable-main-'));
    const [port, idpPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', tsx, main], {
      env: { ...process.env, PORT: String(port), DEV_IDP_PORT: String(idpPort), AUTH_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
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
      const providers = await fetch(`http://localhost:${port}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'demo' } });
      expect(await providers.json()).toEqual({ data: [{ id: 'dev', display_name: 'Local identity provider' }] });
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
      expect(session.status).toBe(201);
      expect(((await session.json()) as { user: { email: string } }).user.email).toBe('ada@example.com');
      const refresh = await fetch(`http://localhost:${port}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_demo_local_only_0c7f3b9a6e2d41f8' } });
      expect((await refresh.json()) as { code: string }).toMatchObject({ code: 'invalid_refresh_token' });
      expect(statSync(join(dataDir, 'auth.sqlite')).isFile()).toBe(true);
      expect(statSync(join(dataDir, 'keys.json')).mode & 0o777).toBe(0o600);

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test('When the tenants file is invalid, then it does not start and names the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aimable-main-'));
    const file = join(dir, 'tenants.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: [
          { id: 'a', providers: { g: { display_name: 'G', issuer: 'https://accounts.google.com', client_id: 'c', client_secret_env: 'G_SECRET' } }, redirect_uris: ['https://a.example/cb'], api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }] },
          { id: 'b', providers: { google: { display_name: 'G', issuer: 'http://accounts.google.com', client_id: 'c', client_secret_env: 'G_SECRET' } }, redirect_uris: ['https://b.example/cb'], api_keys: [{ id: 'k', sha256: 'b'.repeat(64) }] },
        ],
      }),
    );
    const child = spawn(process.execPath, ['--import', tsx, main], {
      env: { ...process.env, AUTH_TENANTS_FILE: file, G_SECRET: 'x', AUTH_DATA_DIR: dir, PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(78);
    expect(errors).toContain('tenants[1].providers.google.issuer must be an https URL');
  }, 60_000);
});
