import { randomUUID, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { AuthStore } from '../store/auth-store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { signedAccessToken } from '../../test/support/access-tokens.js';
import { AccessTokens } from './access-tokens.js';
import { KeyRing, rotateKeys } from './key-ring.js';

const claims = { userId: 'usr_1', sessionId: 'ses_1', tenantId: 't' };
/** Tenant `t`'s access-token lifetime, in seconds; no other tenant is configured. */
const LIFETIME = 3600;
let now = 1_800_000_000_000;
const clock = { now: () => now };
let store: AuthStore;
let keys: KeyRing;
let tokens: AccessTokens;

beforeEach(async () => {
  now = 1_800_000_000_000;
  ({ store } = await openSqliteStore(':memory:'));
  keys = await KeyRing.open(store, clock, { publishOverlapMs: 60_000, refreshMs: 60_000 });
  tokens = new AccessTokens(keys, 'https://auth.example', 'api', (tenantId) => (tenantId === 't' ? LIFETIME : undefined));
});

afterEach(async () => {
  await store.close();
});

/** A token signed with `key` as one who holds it may sign: every claim as the server's, but `iat` and `exp` (seconds) and the tenant chosen. */
function signedBy(key: { kid: string; privateKey: KeyObject }, times: { iat: number; exp: number }, tenant = 't'): string {
  return signedAccessToken(key, { sid: 'ses_1', tenant, iss: 'https://auth.example', aud: 'api', sub: 'usr_1', ...times, jti: randomUUID() });
}

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

describe('access tokens that outlive their tenant\'s lifetime', () => {
  const iat = now / 1000;

  test('When a token lives longer than its tenant\'s access-token lifetime plus a minute, then it does not verify, though its signature is valid', async () => {
    const key = keys.signingKey();
    expect(await tokens.verify(signedBy(key, { iat, exp: iat + LIFETIME + 60 }), now)).toEqual(claims);
    expect(await tokens.verify(signedBy(key, { iat, exp: iat + LIFETIME + 61 }), now)).toBeUndefined();
    expect(await tokens.verify(signedBy(key, { iat, exp: iat + 365 * 24 * 3600 }), now)).toBeUndefined();
  });

  test('When a token\'s iat is more than a minute ahead (to make room for a far exp), then it does not verify', async () => {
    const key = keys.signingKey();
    expect(await tokens.verify(signedBy(key, { iat: iat + 60, exp: iat + 60 + LIFETIME }), now)).toEqual(claims);
    const yearAhead = iat + 365 * 24 * 3600;
    expect(await tokens.verify(signedBy(key, { iat: yearAhead - LIFETIME, exp: yearAhead }), now)).toBeUndefined();
    expect(await tokens.verify(signedBy(key, { iat: iat + 61, exp: iat + 61 + LIFETIME }), now)).toBeUndefined();
  });

  test('When a token names a tenant that is not configured, then it does not verify: it has no lifetime to be held to', async () => {
    expect(await tokens.verify(signedBy(keys.signingKey(), { iat, exp: iat + 60 }, 'elsewhere'), now)).toBeUndefined();
  });
});

describe('access tokens of a retired key', () => {
  test('When the key that signed a token that verified is retired, then the token no longer verifies, at once, though it was remembered', async () => {
    const old = keys.signingKey();
    const token = await tokens.issue(claims, now, 900);
    expect(await tokens.verify(token, now)).toEqual(claims);
    await rotateKeys(store, clock, { kinds: ['signing'], activateInMs: 0 });
    await keys.reload();
    // Within the overlap, the old key's token still verifies, from memory.
    expect(await tokens.verify(token, now)).toEqual(claims);
    await keys.retire(old.kid);
    expect(await tokens.verify(token, now)).toBeUndefined();
    expect(await tokens.verify(signedBy(old, { iat: now / 1000, exp: now / 1000 + 900 }), now)).toBeUndefined();
    expect(tokens.jwks().keys.map((key) => key.kid)).toEqual([keys.signingKey().kid]);
  });
});
