import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import { readKeyFile } from './key-material.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function keyFile() {
  return {
    encryption_key: randomBytes(32).toString('base64url'),
    signing_jwk: { ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK), kid: 'ed25519-legacy' } as JWK & { kid: string },
  };
}

describe('the key file of an earlier release', () => {
  test('When there is none, then there is nothing to import', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    expect(readKeyFile(join(dir, 'keys.json'))).toBeUndefined();
  });

  test('When it is private, then its keys are read', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const file = keyFile();
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(file), { mode: 0o600 });
    expect(readKeyFile(join(dir, 'keys.json'))).toEqual(file);
  });

  test('When it is readable by others, then the start is refused and says how to fix it', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const path = join(dir, 'keys.json');
    writeFileSync(path, JSON.stringify(keyFile()), { mode: 0o644 });
    chmodSync(path, 0o644);
    expect(() => readKeyFile(path)).toThrow(/readable or writable by others.*chmod 600/);
  });

  test('When it holds a wrong encryption key or a signing key that is not a private Ed25519 JWK with a kid, then it is refused, naming the file', () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-keys-'));
    const path = join(dir, 'keys.json');
    const file = keyFile();
    const refused = (contents: unknown, message: string) => {
      writeFileSync(path, JSON.stringify(contents), { mode: 0o600 });
      expect(() => readKeyFile(path)).toThrow(`${path}: ${message}`);
    };
    refused({ ...file, encryption_key: undefined }, 'encryption_key must be 32 bytes, base64url');
    refused({ ...file, encryption_key: 'c2hvcnQ' }, 'encryption_key must be 32 bytes, base64url');
    const { d: _private, ...publicOnly } = file.signing_jwk;
    for (const signing_jwk of [undefined, publicOnly, { ...file.signing_jwk, kid: undefined }, { ...file.signing_jwk, crv: 'X25519' }, { ...file.signing_jwk, kty: 'EC' }]) {
      refused({ ...file, signing_jwk }, 'signing_jwk must be a private Ed25519 JWK with a kid');
    }
  });
});
