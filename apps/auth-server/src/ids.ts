import { createHash, randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn from the CSPRNG 4 KiB at a time, as Node draws those of
 * `randomUUID`: each call to the CSPRNG costs about 5 µs, whatever its size,
 * and a refresh needs several small draws. Each draw is copied out and its
 * bytes in the pool cleared, so that none is handed out twice or left behind.
 */
const pool = Buffer.alloc(4096);
let drawn = pool.length;

export function secureRandomBytes(bytes: number): Buffer {
  if (bytes > pool.length / 4) return randomBytes(bytes);
  if (drawn + bytes > pool.length) {
    randomFillSync(pool);
    drawn = 0;
  }
  const out = Buffer.from(pool.subarray(drawn, drawn + bytes));
  pool.fill(0, drawn, drawn + bytes);
  drawn += bytes;
  return out;
}

/** A random, prefixed identifier: `ses_…`, `usr_…`, `rtk_…`, `aud_…`. 128 bits, hex. */
export function newId(prefix: 'ses' | 'usr' | 'rtk' | 'aud'): string {
  return `${prefix}_${secureRandomBytes(16).toString('hex')}`;
}

/** A random secret of `bytes` bytes, base64url. */
export function randomSecret(bytes: number): string {
  return secureRandomBytes(bytes).toString('base64url');
}

/** SHA-256, lowercase hex: how bearer secrets (states, refresh tokens, API keys) are stored and looked up. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
