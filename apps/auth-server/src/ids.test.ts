import { describe, expect, test } from 'vitest';
import { newId, randomSecret, secureRandomBytes } from './ids.js';

describe('random values', () => {
  test('When many ids and secrets are drawn, across several refills of the pool, then each has its length and none repeats', () => {
    const ids = Array.from({ length: 2000 }, () => newId('rtk'));
    expect(ids.every((id) => /^rtk_[0-9a-f]{32}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const secrets = Array.from({ length: 500 }, () => randomSecret(32));
    expect(secrets.every((secret) => Buffer.from(secret, 'base64url').length === 32)).toBe(true);
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  test('When bytes are drawn, then each draw is a copy of its own: changing it changes no later draw', () => {
    const first = secureRandomBytes(16);
    first.fill(0);
    const next = secureRandomBytes(16);
    expect(next.equals(Buffer.alloc(16))).toBe(false);
    // Bytes beyond a quarter of the pool come straight from the CSPRNG.
    expect(secureRandomBytes(2048)).toHaveLength(2048);
  });
});
