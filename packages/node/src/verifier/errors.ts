/**
 * Why a request's access token was not accepted. The set is closed: an API
 * may switch on it. Every code but `jwks_unavailable` is the token's fault
 * (a 401); `jwks_unavailable` is the verifier's (a 503), and says nothing
 * about the token.
 */
export type AccessTokenErrorCode =
  /** No `Authorization: Bearer` credential on the request. */
  | 'missing_token'
  /** Malformed, tampered, or not what the issuer issues for this API: `typ`, `alg`, `iss`, `aud`, a required claim. */
  | 'invalid_token'
  /** Its `exp` has passed, beyond the clock tolerance. */
  | 'expired'
  /** Its `nbf` is still ahead, beyond the clock tolerance. */
  | 'not_yet_valid'
  /** Signed with a key the issuer does not publish: unknown, or retired. */
  | 'unknown_key'
  /** Issued for a tenant other than the one required. */
  | 'wrong_tenant'
  /** The issuer's JWKS could not be fetched or read. */
  | 'jwks_unavailable';

/**
 * A token the verifier refuses. `code` is coarse and safe to act on;
 * `message` and `cause` say precisely why, for the log, and never go to the
 * client (`requireAuth` and `accessTokenProblemResponse` send a fixed
 * detail).
 */
export class AccessTokenError extends Error {
  readonly code: AccessTokenErrorCode;
  /** 401 for a token that is missing or not accepted; 503 when the keys could not be read. */
  readonly status: 401 | 503;

  constructor(code: AccessTokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccessTokenError';
    this.code = code;
    this.status = code === 'jwks_unavailable' ? 503 : 401;
  }
}

export function isAccessTokenError(error: unknown): error is AccessTokenError {
  return error instanceof AccessTokenError;
}
