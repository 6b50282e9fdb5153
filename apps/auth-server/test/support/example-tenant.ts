import type { RawTenantsFile } from '../../src/config/tenants.js';
import { sha256Hex } from '../../src/ids.js';

/** An API key the mock accepts too (`ak_mock_…`), with every scope. */
export const EXAMPLE_API_KEY = 'ak_mock_contract_examples';
/** The frontend the contract's examples return to. */
export const EXAMPLE_REDIRECT_URI = 'http://localhost:5173/auth/callback';

/**
 * The tenant the contract's examples name: `demo`, with a `google`
 * provider (the local identity provider), the examples' frontend on its
 * allowlist, and a key of the form the mock accepts: a server set up as
 * the examples assume, and as the mock plays it.
 */
export function exampleTenant(issuer: string): RawTenantsFile {
  return {
    tenants: [
      {
        id: 'demo',
        providers: {
          google: { display_name: 'Google', issuer, client_id: 'aimable-test', client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true },
        },
        redirect_uris: [EXAMPLE_REDIRECT_URI],
        api_keys: [{ id: 'examples', sha256: sha256Hex(EXAMPLE_API_KEY), scopes: ['refresh', 'audit:read'] }],
      },
    ],
  };
}
