import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { AppleProviderConfig } from '../tenants/tenant.js';
import { appleClientSecret, RENEW_BEFORE_SECONDS, SECRET_LIFETIME_SECONDS } from './apple-client-secret.js';
import { appleIdentity, nameInAppleUser } from './apple.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const provider: AppleProviderConfig = {
  type: 'apple',
  id: 'apple',
  displayName: 'Apple',
  clientId: 'dev.aimable.signin',
  scopes: ['openid', 'email', 'name'],
  allowInsecureHttp: false,
  issuer: 'https://appleid.apple.com',
  teamId: 'TEAM123456',
  keyId: 'KEY1234567',
  privateKey,
};

function decode(jwt: string) {
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;
  const signed = verify('sha256', Buffer.from(`${header}.${claims}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  return { header: json(header), claims: json(claims), signed };
}

describe("Apple's client secret", () => {
  test('When it is signed, then it is an ES256 JWT of the team for the Services ID, for Apple, valid one hour', () => {
    const now = 1_800_000_000_000;
    const { header, claims, signed } = decode(appleClientSecret(provider, () => now).current());
    expect(signed).toBe(true);
    expect(header).toMatchObject({ alg: 'ES256', kid: 'KEY1234567' });
    expect(claims).toEqual({ iss: 'TEAM123456', sub: 'dev.aimable.signin', aud: 'https://appleid.apple.com', iat: now / 1000, exp: now / 1000 + 3600 });
  });

  test('When it is asked for again, then the same secret is reused until a few minutes before it expires, then renewed', () => {
    let now = 1_800_000_000_000;
    const secret = appleClientSecret(provider, () => now);
    const first = secret.current();
    now += (SECRET_LIFETIME_SECONDS - RENEW_BEFORE_SECONDS - 1) * 1000;
    expect(secret.current()).toBe(first);
    now += 1000;
    const renewed = secret.current();
    expect(renewed).not.toBe(first);
    expect(decode(renewed).claims.exp).toBe(now / 1000 + SECRET_LIFETIME_SECONDS);
  });
});

describe("Apple's ID token", () => {
  const claims = (extra: Record<string, unknown>) => ({ iss: 'https://appleid.apple.com', sub: '001.abc', aud: 'c', iat: 1, exp: 2, email: 'x@privaterelay.appleid.com', ...extra });

  test('When email_verified is true or "true", then the email is verified; "false", false or absent, it is not', () => {
    expect(appleIdentity(claims({ email_verified: 'true' }), 'an-id-token').emailVerified).toBe(true);
    expect(appleIdentity(claims({ email_verified: true }), 'an-id-token').emailVerified).toBe(true);
    expect(appleIdentity(claims({ email_verified: 'false' }), 'an-id-token').emailVerified).toBe(false);
    expect(appleIdentity(claims({ email_verified: false }), 'an-id-token').emailVerified).toBe(false);
    expect(appleIdentity(claims({ email_verified: 'TRUE ' }), 'an-id-token').emailVerified).toBe(false);
    expect(appleIdentity(claims({}), 'an-id-token').emailVerified).toBe(false);
  });

  test('When the email is a private relay address, then it is the email', () => {
    expect(appleIdentity(claims({ is_private_email: 'true', email_verified: 'true' }), 'an-id-token')).toMatchObject({ email: 'x@privaterelay.appleid.com', subject: '001.abc', name: null });
  });
});

describe("Apple's user field", () => {
  test('When it holds a name, then the name is first and last name; the email in it is never taken', () => {
    expect(nameInAppleUser('{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"other@example.com"}')).toBe('Ada Lovelace');
    expect(nameInAppleUser('{"name":{"firstName":" Ada\\n"}}')).toBe('Ada');
  });

  test('When it is not JSON, not an object, or names no one, then there is no name', () => {
    for (const user of ['', '{', 'null', '[]', '"Ada"', '{"name":"Ada"}', '{"name":{"firstName":1}}', '{"email":"a@example.com"}', '{"name":{"firstName":"","lastName":"  "}}']) {
      expect(nameInAppleUser(user)).toBeNull();
    }
  });

  test('When the name holds characters that make one name pass for another, then they are dropped', () => {
    // A right-to-left override, a zero-width joiner, a lone surrogate, a line separator, a decomposed é.
    const user = JSON.stringify({ name: { firstName: '\u202eAda\u200d', lastName: 'Love\ud800lace\u2028 Cafe\u0301' } });
    expect(nameInAppleUser(user)).toBe('Ada Lovelace Caf\u00e9');
  });

  test('When the name is very long, then it is cut to 200 characters, never inside a character', () => {
    expect(nameInAppleUser(JSON.stringify({ name: { firstName: '😀'.repeat(300) } }))).toBe('😀'.repeat(200));
  });
});
