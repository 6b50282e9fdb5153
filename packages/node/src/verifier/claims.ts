import type { JWTPayload } from 'jose';
import { AccessTokenError } from './errors.js';

/**
 * The claims of an Aimable access token (RFC 9068 profile), exactly as the
 * server issues them.
 */
export interface AccessTokenClaims {
  /** The issuer: the auth server's public URL. */
  iss: string;
  /** The audience: the API the token is for (the server's `AUTH_ACCESS_TOKEN_AUDIENCE`, `aimable-api` by default). */
  aud: string;
  /** The user's id. */
  sub: string;
  /** The session's id: the same across the refreshes of one sign-in. */
  sid: string;
  /** The tenant's id. */
  tenant: string;
  /** Issued at, in seconds since the epoch. */
  iat: number;
  /** Expires at, in seconds since the epoch. */
  exp: number;
  /** The token's own id. */
  jti: string;
}

/** The claims the server always issues; a token without one of them is not the server's. */
export const REQUIRED_CLAIMS = ['sub', 'sid', 'tenant', 'exp', 'iat', 'jti'] as const;

/** The payload as typed claims; jose has checked `iss`, `aud`, `exp`, `nbf` and that the required claims are present. */
export function accessTokenClaimsOf(payload: JWTPayload): AccessTokenClaims {
  const { iss, aud, sub, sid, tenant, iat, exp, jti } = payload;
  if (typeof iss !== 'string' || typeof aud !== 'string' || typeof sub !== 'string' || typeof jti !== 'string') {
    throw new AccessTokenError('invalid_token', 'iss, aud, sub and jti must be strings');
  }
  if (typeof sid !== 'string' || typeof tenant !== 'string') throw new AccessTokenError('invalid_token', 'sid and tenant must be strings');
  if (typeof iat !== 'number' || typeof exp !== 'number') throw new AccessTokenError('invalid_token', 'iat and exp must be numbers');
  return { iss, aud, sub, sid, tenant, iat, exp, jti };
}
