import { fork } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createExclusively, keyMaterialFrom, loadOrCreateKeyFile } from './key-material.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the key file', () => {
  test('When the server starts on a new data directory, then the directory is 0700 and the key file 0600, and a restart reads the same keys', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const data = join(dir, 'data');
    const first = loadOrCreateKeyFile(join(data, 'keys.json'));
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(statSync(join(data, 'keys.json')).mode & 0o777).toBe(0o600);
    const again = loadOrCreateKeyFile(join(data, 'keys.json'));
    expect(again.signing.kid).toBe(first.signing.kid);
    expect(again.encryptionKey.equals(first.encryptionKey)).toBe(true);
    expect(readdirSync(data)).toEqual(['keys.json']);
  });

  test('When an existing data directory is open to others, then it is made private', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    chmodSync(dir, 0o755);
    loadOrCreateKeyFile(join(dir, 'keys.json'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  test('When the data directory belongs to another user (a mounted volume), then it is left as it is', () => {
    // As root, a directory given to another user; otherwise the shared temporary directory, which belongs to root.
    const root = process.getuid?.() === 0;
    if (root) {
      dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
      chmodSync(dir, 0o777);
      chownSync(dir, 65_534, 65_534);
    }
    const volume = root ? dir : tmpdir();
    const before = statSync(volume).mode & 0o7777;
    const path = join(volume, `aimable-keys-${process.pid}-${Date.now()}.json`);
    try {
      loadOrCreateKeyFile(path);
      expect(statSync(volume).mode & 0o7777).toBe(before);
    } finally {
      rmSync(path, { force: true });
    }
  });

  test('When the key file is readable by others, then the start is refused and says how to fix it', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const path = join(dir, 'keys.json');
    loadOrCreateKeyFile(path);
    chmodSync(path, 0o644);
    expect(() => loadOrCreateKeyFile(path)).toThrow(/readable or writable by others.*chmod 600/);
  });

  test('When several processes start at once on a new data directory, then they all end up with the same keys', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const path = join(dir, 'keys.json');
    const script = join(dir, 'load.mjs');
    writeFileSync(
      script,
      `import { loadOrCreateKeyFile } from ${JSON.stringify(new URL('./key-material.ts', import.meta.url).pathname)};\nprocess.send(loadOrCreateKeyFile(process.argv[2]).signing.kid);\n`,
    );
    const kids = await Promise.all(
      Array.from({ length: 6 }, () => new Promise<string>((resolve, reject) => {
        const child = fork(script, [path], { execArgv: ['--import', 'tsx'] });
        child.once('message', (kid) => resolve(String(kid)));
        child.once('error', reject);
      })),
    );
    expect(new Set(kids).size).toBe(1);
    expect(JSON.parse(readFileSync(path, 'utf8')).signing_jwk.kid).toBe(kids[0]);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }, 30_000);

  test('When keys are given inline, then a wrong encryption key or a signing key that is not a private Ed25519 JWK with a kid is refused, naming its source', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    loadOrCreateKeyFile(join(dir, 'keys.json'));
    const file = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8'));
    expect(keyMaterialFrom(file, 'inline').signing.kid).toBe(file.signing_jwk.kid);
    expect(() => keyMaterialFrom({ ...file, encryption_key: undefined }, 'inline')).toThrow('inline: encryption_key must be 32 bytes, base64url');
    expect(() => keyMaterialFrom({ ...file, encryption_key: 'c2hvcnQ' }, 'inline')).toThrow('inline: encryption_key must be 32 bytes, base64url');
    const { d: _private, ...publicOnly } = file.signing_jwk;
    for (const signing_jwk of [undefined, publicOnly, { ...file.signing_jwk, kid: undefined }, { ...file.signing_jwk, crv: 'X25519' }, { ...file.signing_jwk, kty: 'EC' }]) {
      expect(() => keyMaterialFrom({ ...file, signing_jwk }, 'inline')).toThrow('inline: signing_jwk must be a private Ed25519 JWK with a kid');
    }
  });

  test('When the key file appears while it is being created, then the one already there is kept', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const path = join(dir, 'keys.json');
    createExclusively(path, 'first\n');
    createExclusively(path, 'second\n');
    expect(readFileSync(path, 'utf8')).toBe('first\n');
    expect(readdirSync(dir)).toEqual(['keys.json']);
  });
});
