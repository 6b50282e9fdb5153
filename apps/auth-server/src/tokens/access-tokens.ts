import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { KeyMaterial } from './key-material.js';

export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
  tenantId: string;
}

/** A token that verified: its claims (its expiry is checked, and then of no further use). */
export type VerifiedAccessToken = AccessTokenClaims;

/**
 * Short-lived JWT access tokens (RFC 9068 profile), signed with EdDSA.
 * Claims: iss, aud, sub (user id), sid, tenant, iat, exp, jti.
 */
export class AccessTokens {
  readonly #verifyKeys: ReturnType<typeof createLocalJWKSet>;

  constructor(
    private readonly keys: KeyMaterial,
    private readonly issuer: string,
    private readonly audience: string,
  ) {
    this.#verifyKeys = createLocalJWKSet({ keys: [keys.signing.publicJwk] });
  }

  /** The public keys, as published at /.well-known/jwks.json. */
  jwks(): { keys: (JWK & { kty: string; kid: string })[] } {
    const { publicJwk, kid } = this.keys.signing;
    return { keys: [{ ...publicJwk, kty: publicJwk.kty!, kid }] };
  }

  issue(claims: AccessTokenClaims, issuedAtMs: number, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(issuedAtMs / 1000);
    return new SignJWT({ sid: claims.sessionId, tenant: claims.tenantId })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.keys.signing.kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(claims.userId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(randomUUID())
      .sign(this.keys.signing.privateKey);
  }

  /** The token's claims, or undefined when it is not one of ours, is malformed or has expired at `nowMs`. */
  async verify(token: string, nowMs: number): Promise<VerifiedAccessToken | undefined> {
    try {
      const { payload } = await jwtVerify<JWTPayload & { sid?: unknown; tenant?: unknown }>(token, this.#verifyKeys, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'sid', 'tenant', 'exp', 'iat', 'jti'],
      });
      if (typeof payload.sid !== 'string' || typeof payload.tenant !== 'string' || typeof payload.sub !== 'string') return undefined;
      return { userId: payload.sub, sessionId: payload.sid, tenantId: payload.tenant };
    } catch {
      // A token that does not verify names no caller.
    }
    return undefined;
  }
}
