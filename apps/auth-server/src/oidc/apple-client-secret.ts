import { sign } from 'node:crypto';
import type { AppleProviderConfig } from '../tenants/tenant.js';

/** How long a signed secret is valid. Apple refuses more than six months; an hour limits what a leaked one is worth. */
export const SECRET_LIFETIME_SECONDS = 60 * 60;
/** A secret is renewed this long before it expires, so that none expires on its way to Apple. */
export const RENEW_BEFORE_SECONDS = 5 * 60;

export interface AppleClientSecret {
  /** The secret to send now: the cached one, or a new one when it is about to expire. */
  current(): string;
}

/**
 * Apple's client secret: an ES256 JWT signed with the team's key, header
 * `kid` = the key id, claims `iss` = the team id, `sub` = the client id
 * (the Services ID), `aud` = Apple's issuer (a test server's own issuer
 * when one is configured), `iat` and `exp`. Signed synchronously, as
 * openid-client calls its client authentication synchronously, with
 * node:crypto (jose signs asynchronously only).
 */
export function appleClientSecret(provider: AppleProviderConfig, now: () => number = Date.now): AppleClientSecret {
  let cached: { secret: string; expiresAt: number } | undefined;
  return {
    current() {
      const at = Math.floor(now() / 1000);
      if (!cached || at >= cached.expiresAt - RENEW_BEFORE_SECONDS) {
        const expiresAt = at + SECRET_LIFETIME_SECONDS;
        cached = { secret: signSecret(provider, at, expiresAt), expiresAt };
      }
      return cached.secret;
    },
  };
}

function signSecret(provider: AppleProviderConfig, issuedAt: number, expiresAt: number): string {
  const header = { alg: 'ES256', kid: provider.keyId, typ: 'JWT' };
  const claims = { iss: provider.teamId, iat: issuedAt, exp: expiresAt, aud: provider.issuer, sub: provider.clientId };
  const input = `${base64url(header)}.${base64url(claims)}`;
  // JWS (RFC 7518 §3.4) wants the raw r‖s signature, not DER.
  const signature = sign('sha256', Buffer.from(input), { key: provider.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
