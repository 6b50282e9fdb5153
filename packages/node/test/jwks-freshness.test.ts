import { describe, expect, test } from 'vitest';
import { freshnessMs } from '../src/verifier/jwks.js';

const DEFAULT_MS = 300_000;
const fresh = (headers: Record<string, string>) => freshnessMs(new Headers(headers), DEFAULT_MS);

describe('freshnessMs', () => {
  test('When the JWKS response has a max-age, then it is kept that long, less the Age a cache on the way reports', () => {
    expect(fresh({ 'Cache-Control': 'public, max-age=300' })).toBe(300_000);
    expect(fresh({ 'Cache-Control': 'max-age=60, must-revalidate' })).toBe(60_000);
    expect(fresh({ 'Cache-Control': 'public, max-age=300', Age: '100' })).toBe(200_000);
    expect(fresh({ 'Cache-Control': 'max-age=300', Age: '400' })).toBe(0);
  });

  test('When it forbids caching, then it is not kept', () => {
    expect(fresh({ 'Cache-Control': 'no-store' })).toBe(0);
    expect(fresh({ 'Cache-Control': 'max-age=300, no-cache' })).toBe(0);
  });

  test('When it says nothing of caching, then it is kept for the default', () => {
    expect(fresh({})).toBe(DEFAULT_MS);
    expect(fresh({ 'Cache-Control': 'public' })).toBe(DEFAULT_MS);
  });
});
