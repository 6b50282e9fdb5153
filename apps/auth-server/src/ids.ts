import { createHash, randomBytes } from 'node:crypto';

/** A random, prefixed identifier: `ses_…`, `usr_…`, `rtk_…`, `aud_…`. 128 bits, hex. */
export function newId(prefix: 'ses' | 'usr' | 'rtk' | 'aud'): string {
  return `${prefix}_${randomBytes(16).toString('hex')}`;
}

/** A random secret of `bytes` bytes, base64url. */
export function randomSecret(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256, lowercase hex: how bearer secrets (states, refresh tokens, API keys) are stored and looked up. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
