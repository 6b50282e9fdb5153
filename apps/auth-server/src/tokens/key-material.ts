import { existsSync, readFileSync, statSync } from 'node:fs';
import type { JWK } from 'jose';

/** The keys of a key file: the AES-256-GCM key for sealed data, and the access token signing key. */
export interface KeyFileContents {
  encryption_key: string;
  signing_jwk: JWK & { kid: string };
}

/**
 * The key file of a release that kept its keys beside the database, if there
 * is one: its keys become the first generation in the database, so that
 * what they sealed and signed stays readable. A key file that others can
 * read or write is refused.
 */
export function readKeyFile(path: string): KeyFileContents | undefined {
  if (!existsSync(path)) return undefined;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is readable or writable by others (mode ${mode.toString(8)}): it holds the server's keys. Run chmod 600 on it.`);
  }
  const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFileContents;
  // Stryker disable next-line StringLiteral: any fallback text decodes to fewer than 32 bytes and is refused alike
  if (Buffer.from(file.encryption_key ?? '', 'base64url').length !== 32) throw new Error(`${path}: encryption_key must be 32 bytes, base64url`);
  const jwk = file.signing_jwk;
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d || !jwk.kid) {
    throw new Error(`${path}: signing_jwk must be a private Ed25519 JWK with a kid`);
  }
  return file;
}
