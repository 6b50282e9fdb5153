/** The operator commands, `pnpm migrate` and `pnpm rotate-keys`, on a SQLite data directory as an operator runs them. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { KeyRing } from '../src/tokens/key-ring.js';
import { runEntryPoint, type EntryPointRun } from './support/entry-point.js';

const admin = fileURLToPath(new URL('../src/admin.ts', import.meta.url));
const secret = 'an-operator-secret-of-at-least-32-characters';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aimable-admin-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): Promise<EntryPointRun> {
  return runEntryPoint(admin, args, { DATABASE_URL: '', AUTH_DATA_DIR: dir, ...env });
}

/** The keys as a server reads them; `publishOverlapMs` as a server's (an access token's lifetime and a minute) keeps a replaced key published. */
async function keysIn(encryptionSecret?: string, publishOverlapMs = 0) {
  const { store } = await openSqliteStore(join(dir, 'auth.sqlite'), { migrate: false });
  try {
    const ring = await KeyRing.open(store, { now: () => Date.now() }, { encryptionSecret, publishOverlapMs, refreshMs: 60_000 });
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

  test('When a leaked signing key is retired after an emergency rotation, then it is published no more and its material is erased; a second run says it already was', async () => {
    await run(['migrate'], { AUTH_KEY_ENCRYPTION_SECRET: secret });
    const leaked = (await keysIn(secret)).signing;
    expect(await run(['rotate-keys', '--kind', 'signing', '--activate-in', '0'], { AUTH_KEY_ENCRYPTION_SECRET: secret })).toMatchObject({ code: 0 });
    const overlap = (15 + 1) * 60_000;
    const rotated = await keysIn(secret, overlap);
    expect(rotated.published).toEqual([leaked, rotated.signing]);
    // Joined with `=`: a key id may begin with `-`, which an option parser would take for an option.
    const retired = await run(['rotate-keys', `--retire=${leaked}`], { AUTH_KEY_ENCRYPTION_SECRET: secret });
    expect(retired).toMatchObject({ code: 0, out: expect.stringContaining(`signing key ${leaked} (generation 1) retired`) });
    expect(retired.out).toContain(`${rotated.signing} signs`);
    const after = await keysIn(secret, overlap);
    expect(after.published).toEqual([rotated.signing]);
    expect(after.rows.find((row) => row.id === leaked)).toMatchObject({ retiredAt: expect.any(Number), material: 'retired:' });
    expect(await run(['rotate-keys', `--retire=${leaked}`], { AUTH_KEY_ENCRYPTION_SECRET: secret })).toMatchObject({ code: 0, out: expect.stringContaining('was already retired') });
  });

  test('When the key to retire is unknown, is the one that signs now, or is a sealing key, then rotate-keys refuses, says why, and retires nothing', async () => {
    await run(['migrate']);
    const { rows, signing } = await keysIn();
    const sealing = rows.find((row) => row.kind === 'sealing')!.id;
    expect(await run(['rotate-keys', '--retire', 'ed25519-000000000000'])).toMatchObject({ code: 65, err: expect.stringContaining(`There is no key ed25519-000000000000. The signing keys not retired: ${signing} (generation 1)`) });
    const current = await run(['rotate-keys', '--retire', signing]);
    expect(current).toMatchObject({ code: 65, err: expect.stringContaining(`Signing key ${signing} signs now, and no newer key would sign instead: run \`pnpm rotate-keys --kind signing --activate-in 0\` first`) });
    // A newer key that is not in use yet does not sign instead either.
    await run(['rotate-keys', '--kind', 'signing', '--activate-in', '600']);
    expect(await run(['rotate-keys', '--retire', signing])).toMatchObject({ code: 65, err: expect.stringContaining('signs now') });
    expect(await run(['rotate-keys', '--retire', sealing])).toMatchObject({ code: 65, err: expect.stringContaining('sealing keys are not retired: each opens only what it sealed itself') });
    expect(await run(['rotate-keys', '--retire', signing, '--kind', 'signing'])).toMatchObject({ code: 78, err: expect.stringContaining('--retire goes alone with rotate-keys') });
    expect((await keysIn()).rows.every((row) => row.retiredAt === null)).toBe(true);
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
