import { createVerifier, type Verifier } from '@aimable/auth-node';

const shared = globalThis as typeof globalThis & { aimableVerifier?: Verifier };

/**
 * How the app's API checks an access token, as any API that a frontend
 * calls would: the server's signature and key set, `typ`, `alg`, `iss`,
 * `aud`, expiry and the tenant. One per process, so the key set is fetched
 * once and cached.
 */
export function verifier(): Verifier {
  shared.aimableVerifier ??= createVerifier({
    issuer: process.env.AIMABLE_AUTH_URL!,
    audience: process.env.AIMABLE_AUDIENCE!,
    tenant: process.env.AIMABLE_TENANT_ID!,
  });
  return shared.aimableVerifier;
}
