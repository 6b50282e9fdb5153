import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { AuthStore } from '../store/auth-store.js';
import { openSqliteStore } from '../store/sqlite.js';
import { AccessTokens } from './access-tokens.js';
import { KeyRing, rotateKeys } from './key-ring.js';

const claims = { userId: 'usr_1', sessionId: 'ses_1', tenantId: 't' };
let now = 1_800_000_000_000;
const clock = { now: () => now };
let store: AuthStore;
let keys: KeyRing;
let tokens: AccessTokens;

beforeEach(async () => {
  now = 1_800_000_000_000;
  store = await openSqliteStore(':memory:');
  keys = await KeyRing.open(store, clock, { publishOverlapMs: 60_000, refreshMs: 60_000 });
  tokens = new AccessTokens(keys, 'https://auth.example', 'api');
});

afterEach(async () => {
  await store.close();
});

/** The token with one character of its signature changed. */
const tampered = (token: string) => token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);

describe('access tokens as issued', () => {
  test('When a token is issued, then a standard verifier accepts it with the published keys, as an RFC 9068 token with every claim', async () => {
    const token = await tokens.issue(claims, now, 900);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(tokens.jwks() as never), {
      issuer: 'https://auth.example',
      audience: 'api',
      algorithms: ['EdDSA'],
      typ: 'at+jwt',
      currentDate: new Date(now),
    });
    expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: keys.signingKey().kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'usr_1', sid: 'ses_1', tenant: 't', iat: now / 1000, exp: now / 1000 + 900 });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    // Another token, another jti.
    expect((await jwtVerify(await tokens.issue(claims, now, 900), createLocalJWKSet(tokens.jwks() as never), { currentDate: new Date(now) })).payload.jti).not.toBe(payload.jti);
    expect(decodeProtectedHeader(token).kid).toBe(keys.signingKey().kid);
  });
});

describe('access tokens verified before', () => {
  test('When a token that verified is presented again, then it verifies; the same token with its signature changed does not', async () => {
    const token = await tokens.issue(claims, now, 600);
    expect(await tokens.verify(token, now)).toEqual(claims);
    expect(await tokens.verify(token, now + 1000)).toEqual(claims);
    expect(await tokens.verify(tampered(token), now + 1000)).toBeUndefined();
    expect(await tokens.verify(`${token}x`, now + 1000)).toBeUndefined();
  });

  test('When a token that verified reaches its expiry, then it no longer verifies, from that very second', async () => {
    const token = await tokens.issue(claims, now, 600);
    expect(await tokens.verify(token, now)).toEqual(claims);
    expect(await tokens.verify(token, now + 599_999)).toEqual(claims);
    expect(await tokens.verify(token, now + 600_000)).toBeUndefined();
  });

  test('When the key that signed a token that verified is no longer published, then the token no longer verifies', async () => {
    const token = await tokens.issue(claims, now, 3600);
    expect(await tokens.verify(token, now)).toEqual(claims);
    await rotateKeys(store, clock, { kinds: ['signing'], activateInMs: 0 });
    await keys.reload();
    // The old key stays published for the overlap, and its token with it.
    now += 30_000;
    expect(await tokens.verify(token, now)).toEqual(claims);
    now += 31_000;
    const { kid } = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string };
    expect(keys.publishedKeys().map((key) => key.kid)).not.toContain(kid);
    expect(await tokens.verify(token, now)).toBeUndefined();
  });
});
