import { generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/** Apple refuses a client secret that expires more than six months after it is presented. */
export const MAX_SECRET_LIFETIME_SECONDS = 15_777_000;

/** The fake's ID token signing key, RS256 as Apple's, with the JWKS that publishes it. */
export interface IdTokenSigner {
  jwks: { keys: JsonWebKey[] };
  sign(claims: Record<string, unknown>): string;
}

export function createIdTokenSigner(): IdTokenSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(6).toString('hex');
  return {
    jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] },
    sign: (claims) => {
      const input = `${encode({ alg: 'RS256', kid })}.${encode(claims)}`;
      return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    },
  };
}

/** A client as the fake knows it: its Services ID, its team, and the public half of the team's key. */
export interface SecretVerification {
  clientId: string;
  teamId: string;
  keyId: string;
  publicKey: KeyObject;
  /** The fake's issuer: the `aud` Apple expects. */
  audience: string;
  nowSeconds: number;
}

/**
 * Checks a client secret as Apple does: an ES256 JWT with the key's `kid`,
 * signed by the registered key, `iss` = the team id, `sub` = the client id,
 * `aud` = the issuer, unexpired and expiring within six months. Returns why
 * it is refused, or undefined.
 */
export function refuseClientSecret(secret: string, expected: SecretVerification): string | undefined {
  const parts = secret.split('.');
  if (parts.length !== 3) return 'not a JWT';
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = decode(headerPart);
  const claims = decode(claimsPart);
  if (!header || !claims) return 'not a JWT';
  if (header.alg !== 'ES256') return `alg ${String(header.alg)}, not ES256`;
  if (header.kid !== expected.keyId) return 'kid is not the registered key id';
  const signed = verify('sha256', Buffer.from(`${headerPart}.${claimsPart}`), { key: expected.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signaturePart, 'base64url'));
  if (!signed) return 'signature does not verify with the registered key';
  if (claims.iss !== expected.teamId) return 'iss is not the team id';
  if (claims.sub !== expected.clientId) return 'sub is not the client id';
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expected.audience)) return `aud is not ${expected.audience}`;
  if (typeof claims.exp !== 'number' || claims.exp <= expected.nowSeconds) return 'expired';
  if (claims.exp > expected.nowSeconds + MAX_SECRET_LIFETIME_SECONDS) return 'expires more than six months ahead';
  if (typeof claims.iat !== 'number' || claims.iat > expected.nowSeconds + 60) return 'iat is missing or in the future';
  return undefined;
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decode(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
