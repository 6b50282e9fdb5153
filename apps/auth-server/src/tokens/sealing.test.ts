import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { Sealer } from './sealing.js';

const sealer = new Sealer(randomBytes(32));

describe('Sealer (AES-256-GCM)', () => {
  test('When a value is sealed and opened with the same associated data, then it comes back, and the ciphertext hides it', () => {
    const sealed = sealer.seal('{"refresh_token":"rt_secret"}', 'rtk_1');
    expect(sealed).not.toContain('rt_secret');
    expect(sealer.open(sealed, 'rtk_1')).toBe('{"refresh_token":"rt_secret"}');
    expect(sealer.seal('same', 'a')).not.toBe(sealer.seal('same', 'a'));
  });

  test('When a sealed value is moved to another row, tampered with, or opened with another key, then opening fails', () => {
    const sealed = sealer.seal('grant', 'rtk_1');
    expect(() => sealer.open(sealed, 'rtk_2')).toThrow();
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => sealer.open(`v1.${bytes.toString('base64url')}`, 'rtk_1')).toThrow();
    expect(() => new Sealer(randomBytes(32)).open(sealed, 'rtk_1')).toThrow();
  });
});
