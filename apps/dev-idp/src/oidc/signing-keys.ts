import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { JWK } from 'oidc-provider';

/**
 * Fresh ID token signing keys for this process. Restarting the provider
 * rotates them, which is what a dev tool wants: relying parties must fetch
 * the jwks_uri instead of pinning a key.
 *
 * The RSA key comes first because oidc-provider signs with the first key that
 * fits the client's algorithm, and RS256 is the default every RP supports; the
 * P-256 and Ed25519 keys let a client opt into ES256 or EdDSA.
 */
export function generateSigningKeys(): JWK[] {
  return [
    toSigningJwk(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
    toSigningJwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    toSigningJwk(generateKeyPairSync('ed25519').privateKey),
  ];
}

/** Keygrip keys for oidc-provider's signed cookies; per process, so a restart ends every session. */
export function generateCookieKeys(): string[] {
  return [randomBytes(32).toString('base64url')];
}

function toSigningJwk(privateKey: KeyObject): JWK {
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: jwkThumbprint(jwk), use: 'sig' };
}

// RFC 7638: the kid is the hash of the required public members in lexicographic
// order, so it identifies the key itself rather than being an arbitrary label.
function jwkThumbprint(jwk: { kty?: string; n?: string; e?: string; crv?: string; x?: string; y?: string }): string {
  const required =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}
