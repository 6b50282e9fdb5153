import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@aimable/testing';
import { describe, expect, test } from 'vitest';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** One tenant with a Google provider, as a tenants file holds it. */
const GOOD_TENANT = { id: 'a', providers: { g: { display_name: 'G', issuer: 'https://accounts.google.com', client_id: 'c', client_secret_env: 'G_SECRET' } }, redirect_uris: ['https://a.example/cb'], api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }] };

/**
 * Starts the production entry point in a fresh data directory, with these
 * tenants (none: no tenants file) and environment, and waits for it to
 * refuse: its exit code and what it printed on stderr.
 */
async function refusedStart(tenants: unknown[] | undefined, env: Record<string, string>): Promise<{ code: number | null; errors: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'aimable-main-'));
  const file = join(dir, 'tenants.json');
  if (tenants) writeFileSync(file, JSON.stringify({ tenants }));
  const child = spawn(process.execPath, ['--import', tsx, main], {
    env: { ...process.env, AUTH_TENANTS_FILE: tenants ? file : '', G_SECRET: 'x', AUTH_DATA_DIR: dir, PORT: String(await freePort()), AUTH_KEY_ENCRYPTION_SECRET: 'k'.repeat(32), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  return { code, errors };
}

describe('the production entry point (what `pnpm serve` runs)', () => {
  test('When no tenants file is given, then the production entry point refuses to start and names AUTH_TENANTS_FILE', async () => {
    const { code, errors } = await refusedStart(undefined, { NODE_ENV: 'production' });
    expect(code).toBe(78);
    expect(errors).toContain('AUTH_TENANTS_FILE must name the tenants file');
  }, 60_000);

  test('When AUTH_KEY_ENCRYPTION_SECRET is not set, then the production entry point refuses to start and names it, and AUTH_ALLOW_PLAINTEXT_KEYS', async () => {
    const { code, errors } = await refusedStart([GOOD_TENANT], { AUTH_KEY_ENCRYPTION_SECRET: '', AUTH_ALLOW_PLAINTEXT_KEYS: '' });
    expect(code).toBe(78);
    expect(errors).toContain('AUTH_KEY_ENCRYPTION_SECRET must be set');
    expect(errors).toContain('AUTH_ALLOW_PLAINTEXT_KEYS=true stores them in the clear instead');
  }, 60_000);

  test('When the tenants file is invalid, then it does not start and names the problem', async () => {
    const insecure = { ...GOOD_TENANT, id: 'b', providers: { google: { ...GOOD_TENANT.providers.g, issuer: 'http://accounts.google.com' } }, redirect_uris: ['https://b.example/cb'] };
    const { code, errors } = await refusedStart([GOOD_TENANT, insecure], {});
    expect(code).toBe(78);
    expect(errors).toContain('tenants[1].providers.google.issuer must be an https URL');
  }, 60_000);

  test('When AUTH_TRUST_PROXY is true, then the server starts and serves, and @aimable/dev-idp is nowhere in what it runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aimable-main-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ tenants: [GOOD_TENANT] }));
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', tsx, main], {
      env: { ...process.env, AUTH_TENANTS_FILE: file, G_SECRET: 'x', AUTH_DATA_DIR: dir, PORT: String(port), AUTH_TRUST_PROXY: 'true', LOG_LEVEL: 'warn', AUTH_ALLOW_PLAINTEXT_KEYS: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      let healthy = false;
      for (let i = 0; i < 100 && !healthy; i += 1) {
        healthy = await fetch(`http://localhost:${port}/healthz`).then((r) => r.ok, () => false);
        if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(healthy).toBe(true);
      // Keys in the clear, as the operator allowed: said once, at warn level.
      expect(output).toContain('the signing and sealing keys are stored in the clear (AUTH_ALLOW_PLAINTEXT_KEYS)');
      const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
      expect(Object.keys(manifest.dependencies)).not.toContain('@aimable/dev-idp');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
