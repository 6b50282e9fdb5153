import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { Sealer } from './sealing.js';

const sealer = new Sealer(randomBytes(32));

describe('Sealer (AES-256-GCM)', () => {
  test('When a value sealed by an earlier run is opened, then it comes back: the key id and format do not change between releases', () => {
    // Sealed with the key of 32 bytes of 7, by this release's format; stored rows outlive the process that sealed them.
    const fixed = new Sealer(Buffer.alloc(32, 7));
    expect(fixed.open('v2.PIp6bniRQkU.7-ypkTjimLJPMaUEdRiW80ehUW2EYR9y5D0HoK1BuQZr2pLOy2e3ANaVKqHb-Vxk', 'row-1')).toBe('kept across releases');
    expect(fixed.seal('x', 'row').startsWith('v2.PIp6bniRQkU.')).toBe(true);
  });

  test('When the empty string is sealed, then it opens: a value of exactly IV and tag is whole, not too short', () => {
    expect(sealer.open(sealer.seal('', 'row'), 'row')).toBe('');
  });

  test('When a value is sealed and opened with the same associated data, then it comes back, and the ciphertext hides it', () => {
    const sealed = sealer.seal('{"refresh_token":"rt_secret"}', 'rtk_1');
    expect(sealed).not.toContain('rt_secret');
    expect(sealer.open(sealed, 'rtk_1')).toBe('{"refresh_token":"rt_secret"}');
  });

  test('When the same value is sealed many times, then every IV is new', () => {
    const ivs = new Set<string>();
    for (let i = 0; i < 2000; i += 1) {
      const payload = Buffer.from(sealer.seal('same', 'a').split('.')[2]!, 'base64url');
      ivs.add(payload.subarray(0, 12).toString('hex'));
    }
    expect(ivs.size).toBe(2000);
  });

  test('When a sealed value is moved to another row, tampered with, or opened with another key, then opening fails', () => {
    const sealed = sealer.seal('grant', 'rtk_1');
    expect(() => sealer.open(sealed, 'rtk_2')).toThrow();
    const [version, id, payload] = sealed.split('.');
    const bytes = Buffer.from(payload!, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => sealer.open(`${version}.${id}.${bytes.toString('base64url')}`, 'rtk_1')).toThrow();
    expect(() => new Sealer(randomBytes(32)).open(sealed, 'rtk_1')).toThrow(/key/);
  });

  test('When the tag is cut short, then opening fails: the tag length is pinned to 16 bytes', () => {
    const sealed = sealer.seal('grant', 'rtk_1');
    const [version, id, payload] = sealed.split('.');
    const bytes = Buffer.from(payload!, 'base64url');
    // A 4-byte tag followed by the ciphertext: GCM would check only 32 bits if the length were not pinned.
    const truncated = Buffer.concat([bytes.subarray(0, 12 + 4), bytes.subarray(12 + 16)]);
    expect(() => sealer.open(`${version}.${id}.${truncated.toString('base64url')}`, 'rtk_1')).toThrow();
  });

  test('When a new key is in use, then values sealed under the previous one still open, and new ones name the new key', () => {
    const previous = randomBytes(32);
    const old = new Sealer(previous).seal('kept', 'row');
    const rotated = new Sealer(randomBytes(32), [previous]);
    expect(rotated.open(old, 'row')).toBe('kept');
    expect(rotated.seal('new', 'row').split('.')[1]).not.toBe(old.split('.')[1]);
  });

  test('When a value from before key ids (v1) is opened, then the current key opens it', () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from('row'));
    const ciphertext = Buffer.concat([cipher.update('legacy', 'utf8'), cipher.final()]);
    const v1 = `v1.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
    expect(new Sealer(key).open(v1, 'row')).toBe('legacy');
  });

  test('When a key is not 32 bytes, then the sealer refuses it, current or previous', () => {
    expect(() => new Sealer(randomBytes(16))).toThrow('AES-256-GCM needs a 32-byte key');
    expect(() => new Sealer(randomBytes(32), [randomBytes(31)])).toThrow('AES-256-GCM needs a 32-byte key');
  });

  test('When a value is not of a known format, or too short to hold IV and tag, then it is refused for that reason', () => {
    const sealed = sealer.seal('grant', 'row');
    const [, id, payload] = sealed.split('.');
    expect(() => sealer.open(`v3.${payload}`, 'row')).toThrow('Unknown sealed value format or key');
    expect(() => sealer.open(`v3.${id}.${payload}`, 'row')).toThrow('Unknown sealed value format or key');
    expect(() => sealer.open(`v1.${id}.${payload}`, 'row')).toThrow('Unknown sealed value format or key');
    expect(() => sealer.open(`v2.${payload}`, 'row')).toThrow('Unknown sealed value format or key');
    expect(() => sealer.open(`v2.${id}.${Buffer.alloc(27).toString('base64url')}`, 'row')).toThrow('Sealed value too short');
  });
});
