import { createHash } from 'node:crypto';
import type { RawTenantsFile } from '@aimable/auth-server';
import type { DevIdpClient } from '@aimable/dev-idp';

/**
 * The demo tenant: tenant `demo`, provider `dev` (the local identity
 * provider), and two API keys that this file publishes: the app's, which
 * refreshes, and the operator's, which reads the audit log. None of it
 * exists outside the demo.
 */
export const DEMO_API_KEY = 'ak_demo_local_only_0c7f3b9a6e2d41f8';
/** The demo's operator key: scope `audit:read` only, for `GET /v1/admin/audit-events`. */
export const DEMO_ADMIN_API_KEY = 'demo-admin-key-local-only-7d3e9a51c2b84f60';
export const DEMO_CLIENT_ID = 'aimable-demo';
export const DEMO_CLIENT_SECRET_ENV = 'AIMABLE_DEMO_DEV_CLIENT_SECRET';
export const DEMO_CLIENT_SECRET = 'dev-secret-not-for-production';
/** The demo apps' callbacks: the demo app's (5173, 4173), the React demo app's (5174) and the server-rendered one's (3000). Their origins are the CORS origins. */
export const DEMO_REDIRECT_URIS = ['http://localhost:5173/auth/callback', 'http://localhost:4173/auth/callback', 'http://localhost:5174/auth/callback', 'http://localhost:3000/auth/callback'];

/** The demo apps' callbacks, with those of `webOrigins` where they are not among the defaults. */
function demoRedirectUris(webOrigins: string[]): string[] {
  return [...new Set([...DEMO_REDIRECT_URIS, ...webOrigins.map((origin) => `${origin}/auth/callback`)])];
}

/**
 * The demo tenant's client at the local identity provider: the server's
 * callback, the demo apps' post-logout URIs (each app's `/`, which the
 * tenant allows by default), and the server's back-channel logout endpoint
 * for tenant `demo`, so that signing out at the provider ends the session.
 */
export function demoDevIdpClient(publicUrl: string, ...webOrigins: string[]): DevIdpClient {
  return {
    client_id: DEMO_CLIENT_ID,
    client_secret: DEMO_CLIENT_SECRET,
    redirect_uris: [`${publicUrl}/v1/auth/oidc/dev/callback`],
    post_logout_redirect_uris: [...new Set(demoRedirectUris(webOrigins).map((uri) => `${new URL(uri).origin}/`))],
    backchannel_logout_uri: `${publicUrl}/v1/auth/oidc/dev/backchannel-logout?tenant=demo`,
  };
}

/** The demo tenant; `webOrigins`, where the demo apps run, are allowed too when they are not among the defaults. */
export function demoTenantsFile(devIdpIssuer: string, ...webOrigins: string[]): RawTenantsFile {
  const redirectUris = demoRedirectUris(webOrigins);
  return {
    tenants: [
      {
        id: 'demo',
        providers: {
          dev: {
            display_name: 'Local identity provider',
            issuer: devIdpIssuer,
            client_id: DEMO_CLIENT_ID,
            client_secret_env: DEMO_CLIENT_SECRET_ENV,
            scopes: ['openid', 'email', 'profile'],
            // The local provider speaks http; only this demo configuration allows it.
            allow_insecure_http: true,
          },
        },
        redirect_uris: redirectUris,
        api_keys: [
          { id: 'demo', sha256: createHash('sha256').update(DEMO_API_KEY).digest('hex') },
          { id: 'demo-admin', sha256: createHash('sha256').update(DEMO_ADMIN_API_KEY).digest('hex'), scopes: ['audit:read'] },
        ],
      },
    ],
  };
}
