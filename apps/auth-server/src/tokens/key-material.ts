import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JWK } from 'jose';

/** The server's secrets: the AES-256-GCM key for sealed data, and the access token signing key. */
export interface KeyMaterial {
  encryptionKey: Buffer;
  signing: { kid: string; privateKey: KeyObject; publicJwk: JWK };
}

interface KeyFile {
  encryption_key: string;
  signing_jwk: JWK & { kid: string };
}

/**
 * Reads the key file, or creates it (mode 0600) on first start. Keys must
 * survive restarts: sealed grants and idempotency records are unreadable,
 * and issued access tokens unverifiable, under new keys.
 */
export function loadOrCreateKeyFile(path: string): KeyMaterial {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    const file: KeyFile = {
      encryption_key: randomBytes(32).toString('base64url'),
      signing_jwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: `ed25519-${randomBytes(6).toString('hex')}` } as KeyFile['signing_jwk'],
    };
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, path);
  }
  return keyMaterialFrom(JSON.parse(readFileSync(path, 'utf8')) as KeyFile, path);
}

/** Key material from explicit values, for deployments that keep secrets out of files. */
export function keyMaterialFrom(file: KeyFile, source: string): KeyMaterial {
  const encryptionKey = Buffer.from(file.encryption_key ?? '', 'base64url');
  if (encryptionKey.length !== 32) throw new Error(`${source}: encryption_key must be 32 bytes, base64url`);
  const jwk = file.signing_jwk;
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d || !jwk.kid) {
    throw new Error(`${source}: signing_jwk must be a private Ed25519 JWK with a kid`);
  }
  const privateKey = createPrivateKey({ key: jwk as never, format: 'jwk' });
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  return { encryptionKey, signing: { kid: jwk.kid, privateKey, publicJwk: { ...publicJwk, kid: jwk.kid, alg: 'EdDSA', use: 'sig' } } };
}
