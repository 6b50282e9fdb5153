import { createHmac, sign, type KeyObject } from 'node:crypto';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A compact JWS over exactly `header` and `claims`, signed with Ed25519 by
 * whoever holds `privateKey` (the server's own key, for tokens it would not
 * issue, or a stranger's).
 */
export function signedToken(privateKey: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const signingInput = `${encode(header)}.${encode(claims)}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
}

/** An HS256 token whose MAC is keyed with `secret`: the algorithm-confusion attack, with the public key as the secret. */
export function hmacToken(secret: string | Buffer, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const signingInput = `${encode({ ...header, alg: 'HS256' })}.${encode(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** An unsecured JWT (RFC 7519 §6): `alg: none` and an empty signature. */
export function unsecuredToken(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return `${encode({ ...header, alg: 'none' })}.${encode(claims)}.`;
}

/** The token with its payload replaced, and its signature kept. */
export function withPayload(token: string, claims: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${encode(claims)}.${signature}`;
}
