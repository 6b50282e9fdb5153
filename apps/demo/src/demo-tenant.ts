import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { RawTenantsFile } from '@aimable/auth-server';
import { ENTRA_DIRECTORIES, type DevIdpClient, type DevIdpOptions, type FakeAppleOptions } from '@aimable/dev-idp';

/**
 * The demo tenant: tenant `demo`, providers `dev` (the local identity
 * provider), `github`, `apple` and `microsoft` (dev-idp's fakes of
 * GitHub, Sign in with Apple and Entra ID), and two API keys that this file publishes: the app's, which
 * refreshes, and the operator's, which reads the audit log. None of it
 * exists outside the demo.
 */
export const DEMO_API_KEY = 'ak_demo_local_only_0c7f3b9a6e2d41f8';
/** The demo's operator key: scope `audit:read` only, for `GET /v1/admin/audit-events`. */
export const DEMO_ADMIN_API_KEY = 'demo-admin-key-local-only-7d3e9a51c2b84f60';
export const DEMO_CLIENT_ID = 'aimable-demo';
export const DEMO_CLIENT_SECRET_ENV = 'AIMABLE_DEMO_DEV_CLIENT_SECRET';
export const DEMO_CLIENT_SECRET = 'dev-secret-not-for-production';
/** Sign in with Apple through dev-idp's fake of it: the demo's Services ID, team and key id. */
export const DEMO_APPLE = { servicesId: 'dev.aimable.demo.signin', teamId: 'DEMOTEAM01', keyId: 'DEMOKEY001' } as const;
export const DEMO_APPLE_KEY_ENV = 'AIMABLE_DEMO_APPLE_PRIVATE_KEY';

/** The demo's Apple team key: made at each start and kept in memory, its PEM for the server and its public half for the fake. */
export function demoAppleKey(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey };
}

/** The fake Apple's registration of the demo's Services ID, whose return URL is the server's callback. */
export function demoFakeApple(serverUrl: string, publicKey: KeyObject): FakeAppleOptions {
  return {
    clients: [{ client_id: DEMO_APPLE.servicesId, team_id: DEMO_APPLE.teamId, key_id: DEMO_APPLE.keyId, public_key: publicKey, redirect_uris: [`${serverUrl}/v1/auth/oidc/apple/callback`] }],
  };
}

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
          github: {
            type: 'github',
            display_name: 'GitHub',
            client_id: DEMO_CLIENT_ID,
            client_secret_env: DEMO_CLIENT_SECRET_ENV,
            base_url: `${devIdpIssuer}/github`,
            api_url: `${devIdpIssuer}/github/api`,
            allow_insecure_http: true,
          },
          apple: {
            type: 'apple',
            display_name: 'Apple',
            issuer: `${devIdpIssuer}/apple`,
            client_id: DEMO_APPLE.servicesId,
            team_id: DEMO_APPLE.teamId,
            key_id: DEMO_APPLE.keyId,
            private_key_env: DEMO_APPLE_KEY_ENV,
            allow_insecure_http: true,
          },
          microsoft: {
            type: 'microsoft',
            display_name: 'Microsoft',
            client_id: DEMO_CLIENT_ID,
            client_secret_env: DEMO_CLIENT_SECRET_ENV,
            // Any work account, of the one directory allowed: Contoso's users sign in, Fabrikam's are refused.
            directory: 'organizations',
            allowed_directories: [ENTRA_DIRECTORIES.contoso],
            authority: `${devIdpIssuer}/entra`,
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

/** The fakes dev-idp serves for the demo tenant's providers, each with the demo's client; `publicUrl` is the auth server's. */
export function demoFakeProviders(publicUrl: string): NonNullable<DevIdpOptions['fakes']> {
  return {
    github: { clients: [{ client_id: DEMO_CLIENT_ID, client_secret: DEMO_CLIENT_SECRET, redirect_uris: [`${publicUrl}/v1/auth/oidc/github/callback`] }] },
    entra: { clients: [{ client_id: DEMO_CLIENT_ID, client_secret: DEMO_CLIENT_SECRET, redirect_uris: [`${publicUrl}/v1/auth/oidc/microsoft/callback`] }] },
  };
}
