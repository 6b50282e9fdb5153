import { randomUUID, sign } from 'node:crypto';
import { errors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { KeyObject } from 'node:crypto';
import type { SigningKey } from './key-ring.js';

/** The signing keys as access tokens need them: the key ring, or a fixed key in unit tests. */
export interface SigningKeys {
  signingKey(): SigningKey;
  publishedKeys(): SigningKey[];
  verificationKey(kid: string): Promise<KeyObject | undefined>;
}

export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
  tenantId: string;
}

/** A token that verified: its claims (its expiry is checked, and then of no further use). */
export type VerifiedAccessToken = AccessTokenClaims;

/** A token that verified, as remembered: its claims, its expiry (seconds) and the key that signed it. */
interface Verified {
  claims: VerifiedAccessToken;
  exp: number;
  kid: string;
}

/** Tokens remembered as verified, at most; the oldest is forgotten first. */
const VERIFIED_CACHE_SIZE = 10_000;

/** Clock skew allowed between the instances that issue tokens and this one: on `iat`, and on a token's lifetime. */
const CLOCK_SKEW_SECONDS = 60;

/** A tenant's access-token lifetime in seconds (`session_policy.access_token_ttl_seconds`); undefined for a tenant not configured. */
export type AccessTokenLifetime = (tenantId: string) => number | undefined;

/**
 * Short-lived JWT access tokens (RFC 9068 profile), signed with EdDSA.
 * Claims: iss, aud, sub (user id), sid, tenant, iat, exp, jti.
 */
export class AccessTokens {
  /**
   * Tokens that verified, by their exact text. A client presents the same
   * access token on every call for its lifetime, and its signature,
   * issuer, audience, type and claims are what they were the first time:
   * only the clock and the keys change. So a token found here is checked
   * for what can change (it has not expired, and the key that signed it is
   * still published: a key retired since is not), and its signature is not
   * verified again. Only tokens that verified are kept, never more than
   * `VERIFIED_CACHE_SIZE`.
   */
  readonly #verified = new Map<string, Verified>();

  constructor(
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly lifetimeOf: AccessTokenLifetime,
  ) {}

  /** The public keys, as published at /.well-known/jwks.json. */
  jwks(): { keys: (JWK & { kty: string; kid: string })[] } {
    return { keys: this.keys.publishedKeys().map((key) => key.publicJwk) };
  }

  /**
   * A signed access token: a compact JWS (RFC 7515) over the header and
   * claims, signed with Ed25519 by `node:crypto` directly (jose signs through
   * WebCrypto, on the thread pool, for the same signature).
   */
  async issue(claims: AccessTokenClaims, issuedAtMs: number, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(issuedAtMs / 1000);
    const key = this.keys.signingKey();
    const header = { alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' };
    const payload = { sid: claims.sessionId, tenant: claims.tenantId, iss: this.issuer, aud: this.audience, sub: claims.userId, iat, exp: iat + ttlSeconds, jti: randomUUID() };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    return `${signingInput}.${sign(null, Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
  }

  /** The token's claims, or undefined when it is not one of ours, is malformed or has expired at `nowMs`. */
  async verify(token: string, nowMs: number): Promise<VerifiedAccessToken | undefined> {
    const known = this.#verified.get(token);
    if (known) {
      // As jose judges expiry: expired from the second `exp` on, with no tolerance.
      if (Math.floor(nowMs / 1000) < known.exp && this.keys.publishedKeys().some((key) => key.kid === known.kid)) return known.claims;
      this.#verified.delete(token);
    }
    try {
      let kid = '';
      const { payload } = await jwtVerify<JWTPayload & { sid?: unknown; tenant?: unknown }>(token, async (header) => {
        const key = header.kid === undefined ? undefined : await this.keys.verificationKey(header.kid);
        if (!key) throw new errors.JWKSNoMatchingKey();
        kid = header.kid!;
        return key;
      }, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'sid', 'tenant', 'exp', 'iat', 'jti'],
      });
      if (typeof payload.sid !== 'string' || typeof payload.tenant !== 'string' || typeof payload.sub !== 'string') return undefined;
      if (!this.#withinLifetime(payload.tenant, payload.iat!, payload.exp!, nowMs)) return undefined;
      // Shared by every request that presents the token: frozen, so that none changes it for the others.
      const claims = Object.freeze({ userId: payload.sub, sessionId: payload.sid, tenantId: payload.tenant });
      this.#remember(token, { claims, exp: payload.exp!, kid });
      return claims;
    } catch (error) {
      // A token that does not verify names no caller; a database that does not answer (reading the keys for a new id) is not the token's fault.
      if (!(error instanceof errors.JOSEError)) throw error;
    }
    return undefined;
  }

  /**
   * MUST (RFC 7519 §4.1.4, §4.1.6; RFC 9068 §4 leaves the lifetime to the
   * authorization server): a token lives no longer than its tenant's
   * access-token lifetime, plus the clock skew, from an `iat` that is not in
   * the future. A signing key that leaked then signs nothing that outlives
   * that lifetime (no `exp` a year away, no `iat` moved ahead to make room
   * for one), and retiring the key ends even those.
   */
  #withinLifetime(tenantId: string, iat: number, exp: number, nowMs: number): boolean {
    const lifetime = this.lifetimeOf(tenantId);
    if (lifetime === undefined) return false;
    return iat <= nowMs / 1000 + CLOCK_SKEW_SECONDS && exp - iat <= lifetime + CLOCK_SKEW_SECONDS;
  }

  #remember(token: string, verified: Verified): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, verified);
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
