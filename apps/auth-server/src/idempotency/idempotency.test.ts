import { describe, expect, test } from 'vitest';
import { canonicalJson, requestFingerprint } from './idempotency.js';

describe('request fingerprints', () => {
  test('When only key order differs, then the fingerprint is the same', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(requestFingerprint('POST', '/r', { a: 1, b: 2 })).toBe(requestFingerprint('post', '/r', { b: 2, a: 1 }));
  });

  test('When the body, route, method or bound credential differs, then so does the fingerprint', () => {
    const base = requestFingerprint('POST', '/r', { a: 1 }, 'token-hash-1');
    expect(requestFingerprint('POST', '/r', { a: 2 }, 'token-hash-1')).not.toBe(base);
    expect(requestFingerprint('POST', '/s', { a: 1 }, 'token-hash-1')).not.toBe(base);
    expect(requestFingerprint('PUT', '/r', { a: 1 }, 'token-hash-1')).not.toBe(base);
    expect(requestFingerprint('POST', '/r', { a: 1 }, 'token-hash-2')).not.toBe(base);
  });
});
