import { describe, expect, test } from 'vitest';
import { ConfigError } from '../config-error.js';
import { parseTenants, type RawTenantsFile } from './tenants.js';

const env = { GOOGLE_SECRET: 's3cret' };
const hash = 'a'.repeat(64);

function valid(): RawTenantsFile {
  return {
    tenants: [
      {
        id: 'acme',
        providers: { google: { display_name: 'Google', issuer: 'https://accounts.google.com', client_id: 'c', client_secret_env: 'GOOGLE_SECRET' } },
        redirect_uris: ['https://app.acme.com/auth/callback'],
        api_keys: [{ id: 'k', sha256: hash }],
      },
    ],
  };
}

function problemsOf(raw: unknown): string[] {
  try {
    parseTenants(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('tenant configuration', () => {
  test('When a tenant names no post-logout URIs, then each redirect URI’s origin with the path / is one; named ones follow the redirect URI rules', () => {
    const [tenant] = parseTenants(valid(), env);
    expect(tenant!.postLogoutRedirectUris).toEqual(['https://app.acme.com/']);
    const named = valid();
    named.tenants[0]!.post_logout_redirect_uris = ['https://app.acme.com/signed-out', 'http://localhost:5173/'];
    expect(parseTenants(named, env)[0]!.postLogoutRedirectUris).toEqual(['https://app.acme.com/signed-out', 'http://localhost:5173/']);
    named.tenants[0]!.post_logout_redirect_uris = [];
    expect(parseTenants(named, env)[0]!.postLogoutRedirectUris).toEqual([]);
    named.tenants[0]!.post_logout_redirect_uris = ['http://app.acme.com/', 'https://app.acme.com/#x'];
    expect(problemsOf(named)).toEqual([
      'tenants[0].post_logout_redirect_uris[0] must be an https URL (http only on localhost)',
      'tenants[0].post_logout_redirect_uris[1] must be an absolute URL in normal form, without fragment',
    ]);
  });

  test('When the file is valid, then defaults are filled in: scopes, CORS origins from redirect URIs, session policy', () => {
    const [tenant] = parseTenants(valid(), env);
    expect(tenant!.providers[0]).toMatchObject({ id: 'google', clientSecret: 's3cret', scopes: ['openid', 'email', 'profile'], allowInsecureHttp: false });
    expect(tenant!.corsOrigins).toEqual(['https://app.acme.com']);
    expect(tenant!.sessionPolicy).toEqual({
      accessTokenTtlSeconds: 900,
      absoluteLifetimeSeconds: 2_592_000,
      idleTimeoutSeconds: 604_800,
      refreshReuseGraceSeconds: 10,
      cookieSameSite: 'Strict',
      frontendPkce: 'required',
    });
  });

  test('When a provider issuer is http without the explicit flag, then the error names its path', () => {
    const raw = valid();
    raw.tenants.push({ ...raw.tenants[0]!, id: 'second' });
    raw.tenants[1]!.providers = { google: { ...raw.tenants[0]!.providers.google!, issuer: 'http://accounts.google.com' } };
    expect(problemsOf(raw)).toEqual(['tenants[1].providers.google.issuer must be an https URL']);
  });

  test('When http is explicitly allowed for a local provider, then it is accepted', () => {
    const raw = valid();
    raw.tenants[0]!.providers.google = { ...raw.tenants[0]!.providers.google!, issuer: 'http://localhost:8090', allow_insecure_http: true };
    expect(problemsOf(raw)).toEqual([]);
  });

  test('When several things are wrong, then every problem is reported at once, each with its path', () => {
    const raw = valid();
    const tenant = raw.tenants[0]!;
    tenant.id = 'Acme!';
    tenant.redirect_uris = ['http://app.acme.com/cb', 'https://app.acme.com/cb#x', 'https://app.acme.com/a|b/cb'];
    tenant.api_keys = [{ id: 'k', sha256: 'nothex' }];
    tenant.providers.google!.client_secret_env = 'MISSING_SECRET';
    tenant.providers.google!.scopes = ['email'];
    tenant.session_policy = { idle_timeout_seconds: 100, absolute_lifetime_seconds: 10, cookie_same_site: 'Sometimes' as never, frontend_pkce: 'sometimes' as never };
    expect(problemsOf(raw)).toEqual([
      'tenants[0].id must match ^[a-z0-9][a-z0-9-]{0,62}$',
      'tenants[0].providers.google.client_secret_env names MISSING_SECRET, which is not set',
      "tenants[0].providers.google.scopes must include 'openid'",
      'tenants[0].redirect_uris[0] must be an https URL (http only on localhost)',
      'tenants[0].redirect_uris[1] must be an absolute URL in normal form, without fragment',
      'tenants[0].redirect_uris[2] must be a URI (RFC 3986): percent-encode other characters',
      'tenants[0].api_keys[0].sha256 must be the lowercase hex SHA-256 of the key',
      'tenants[0].session_policy.cookie_same_site must be Strict, Lax or None',
      'tenants[0].session_policy.frontend_pkce must be required or optional',
      'tenants[0].session_policy.idle_timeout_seconds must not exceed absolute_lifetime_seconds',
    ]);
  });

  test('When a key names no scopes, then it may refresh only; scopes it names are checked', () => {
    const raw = valid();
    raw.tenants[0]!.api_keys = [
      { id: 'app', sha256: 'a'.repeat(64) },
      { id: 'ops', sha256: 'b'.repeat(64), scopes: ['audit:read'] },
    ];
    expect(parseTenants(raw, { GOOGLE_SECRET: 's' })[0]!.apiKeyHashes.map((key) => key.scopes)).toEqual([['refresh'], ['audit:read']]);
    raw.tenants[0]!.api_keys = [{ id: 'ops', sha256: 'b'.repeat(64), scopes: ['admin'] }];
    expect(problemsOf(raw)).toEqual(['tenants[0].api_keys[0].scopes must be a non-empty array of refresh, audit:read']);
  });

  test('When two tenants share an id or the list is empty, then it is refused', () => {
    const raw = valid();
    raw.tenants.push(valid().tenants[0]!);
    expect(problemsOf(raw)).toEqual(["tenants[1].id 'acme' is declared twice"]);
    expect(problemsOf({ tenants: [] })).toEqual(['tenants must be a non-empty array']);
  });
});
