/** The operator commands, `pnpm migrate` and `pnpm rotate-keys`, on a SQLite data directory as an operator runs them. */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../src/store/sqlite.js';
import { KeyRing } from '../src/tokens/key-ring.js';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const admin = fileURLToPath(new URL('../src/admin.ts', import.meta.url));
const secret = 'an-operator-secret-of-at-least-32-characters';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aimable-admin-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', tsx, admin, ...args], { env: { ...process.env, DATABASE_URL: '', AUTH_DATA_DIR: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out, err };
}

async function keysIn(encryptionSecret?: string) {
  const store = await openSqliteStore(join(dir, 'auth.sqlite'), { migrate: false });
  try {
    const ring = await KeyRing.open(store, { now: () => Date.now() }, { encryptionSecret, publishOverlapMs: 0, refreshMs: 60_000 });
    return { rows: await store.listServerKeys(), signing: ring.signingKey().kid, published: ring.publishedKeys().map((key) => key.kid) };
  } finally {
    await store.close();
  }
}

describe('pnpm migrate and pnpm rotate-keys', () => {
  test('When migrate runs on a new data directory, then it applies every migration and makes the first keys, sealed under the secret; a second run has nothing to do', async () => {
    const first = await run(['migrate'], { AUTH_KEY_ENCRYPTION_SECRET: secret });
    expect(first).toMatchObject({ code: 0, out: expect.stringMatching(/applied 0001_initial, .*0004_server_keys/) });
    const keys = await keysIn(secret);
    expect(keys.rows.map((row) => [row.kind, row.generation, row.material.slice(0, 7)])).toEqual([['sealing', 1, 'sealed:'], ['signing', 1, 'sealed:']]);
    expect(await run(['migrate'], { AUTH_KEY_ENCRYPTION_SECRET: secret })).toMatchObject({ code: 0, out: expect.stringContaining('the schema is up to date') });
    // Without the secret the keys cannot be opened, and the command says what is missing.
    expect(await run(['migrate'])).toMatchObject({ code: 1, err: expect.stringContaining('set AUTH_KEY_ENCRYPTION_SECRET') });
  });

  test('When keys are rotated, then the next generation is published at once and used from its activation time', async () => {
    await run(['migrate']);
    const before = await keysIn();
    const rotated = await run(['rotate-keys', '--kind', 'signing', '--activate-in', '3600']);
    expect(rotated).toMatchObject({ code: 0, out: expect.stringMatching(/signing key \S+ generation 2, published now, in use from /) });
    const after = await keysIn();
    expect(after.signing).toBe(before.signing);
    expect(after.published).toHaveLength(2);
    expect(after.rows.filter((row) => row.kind === 'sealing')).toHaveLength(1);
    await run(['rotate-keys', '--activate-in', '0']);
    const now = await keysIn();
    expect(now.rows.map((row) => [row.kind, row.generation])).toEqual([['sealing', 1], ['sealing', 2], ['signing', 1], ['signing', 2], ['signing', 3]]);
    expect(now.signing).toBe(now.rows.find((row) => row.kind === 'signing' && row.generation === 3)!.id);
  });

  test('When the keys of an earlier release are in keys.json, then migrate takes them as the first generation', async () => {
    const jwk = { ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK), kid: 'ed25519-from-file' };
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ encryption_key: randomBytes(32).toString('base64url'), signing_jwk: jwk }), { mode: 0o600 });
    expect((await run(['migrate'])).code).toBe(0);
    expect((await keysIn()).signing).toBe('ed25519-from-file');
  });

  test('When rotate-keys runs on a schema that lacks a migration, or with a bad option, then it refuses and says why', async () => {
    expect(await run(['rotate-keys'])).toMatchObject({ code: 1, err: expect.stringContaining('run `pnpm migrate` first') });
    expect(await run(['rotate-keys', '--kind', 'everything'])).toMatchObject({ code: 78, err: expect.stringContaining('--kind must be signing, sealing or both') });
    expect(await run(['rotate-keys', '--activate-in', 'soon'])).toMatchObject({ code: 78, err: expect.stringContaining('--activate-in must be a whole number of seconds') });
    expect(await run(['unknown'])).toMatchObject({ code: 64, out: expect.stringContaining('Usage:') });
  });
});
