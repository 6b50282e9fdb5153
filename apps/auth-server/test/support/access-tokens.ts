import { sign, type KeyObject } from 'node:crypto';

/**
 * An access token as whoever holds `key` can sign it: an EdDSA JWT with the header the server writes (`kid`,
 * `typ: at+jwt`) and exactly `claims` (a claim set to undefined is left out), for tokens the server would not issue.
 */
export function signedAccessToken(key: { kid: string; privateKey: KeyObject }, claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })).toString('base64url');
  const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}
