import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
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
 * Reads the key file, or creates it on first start. Keys must survive
 * restarts: sealed grants and idempotency records are unreadable, and
 * issued access tokens unverifiable, under new keys.
 *
 * - The data directory, when the server's user owns it, is made private to it (0700).
 * - The file is created exclusively: it is written whole under a temporary
 *   name, then linked into place, which fails if another process won the
 *   race; both then use the winner's keys.
 * - A key file that others can read or write is refused.
 */
export function loadOrCreateKeyFile(path: string): KeyMaterial {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A directory the server owns is made private; one it only may write to (a mounted volume) is left as it is.
  if (statSync(dir).uid === process.getuid?.()) chmodSync(dir, 0o700);
  if (!existsSync(path)) createExclusively(path, `${JSON.stringify(newKeyFile(), null, 2)}\n`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is readable or writable by others (mode ${mode.toString(8)}): it holds the server's keys. Run chmod 600 on it.`);
  }
  return keyMaterialFrom(JSON.parse(readFileSync(path, 'utf8')) as KeyFile, path);
}

function newKeyFile(): KeyFile {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    encryption_key: randomBytes(32).toString('base64url'),
    signing_jwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: `ed25519-${randomBytes(6).toString('hex')}` } as KeyFile['signing_jwk'],
  };
}

/** Writes `content` to `path` whole and only if nothing is there yet; what another process put there first stays. */
export function createExclusively(path: string, content: string): void {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  // Not closing the descriptor leaks it, which no test can see in one call; a link that fails for another reason than
  // EEXIST cannot be caused here, as the temporary file was just made beside it.
  // Stryker disable BlockStatement,ConditionalExpression: see above
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process created it first: its keys are the ones.
  } finally {
    unlinkSync(temporary);
  }
  // Stryker restore BlockStatement,ConditionalExpression
}

/** Key material from explicit values, for deployments that keep secrets out of files. */
export function keyMaterialFrom(file: KeyFile, source: string): KeyMaterial {
  // Stryker disable next-line StringLiteral: any fallback text decodes to fewer than 32 bytes and is refused alike
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
