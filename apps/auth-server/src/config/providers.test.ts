import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../config-error.js';
import { parseTenants } from './tenants.js';

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const env = { SECRET: 's3cret', APPLE_KEY: p256, WRONG_KEY: p384 };

function tenantWith(providers: Record<string, unknown>) {
  return { tenants: [{ id: 'acme', providers, redirect_uris: ['https://app.acme.com/auth/callback'], api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }] }] };
}

function problemsOf(providers: Record<string, unknown>): string[] {
  try {
    parseTenants(tenantWith(providers), env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('provider types', () => {
  test('When a provider names no type, then it is an OpenID Connect provider, as before types existed', () => {
    const [tenant] = parseTenants(tenantWith({ google: { display_name: 'Google', issuer: 'https://accounts.google.com', client_id: 'c', client_secret_env: 'SECRET' } }), env);
    expect(tenant!.providers[0]).toMatchObject({ type: 'oidc', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] });
  });

  test("When a GitHub provider gives only its client, then github.com's endpoints and GitHub's scopes are filled in", () => {
    const [tenant] = parseTenants(tenantWith({ github: { type: 'github', display_name: 'GitHub', client_id: 'Iv1.abc', client_secret_env: 'SECRET' } }), env);
    expect(tenant!.providers[0]).toMatchObject({ type: 'github', baseUrl: 'https://github.com', apiUrl: 'https://api.github.com', scopes: ['read:user', 'user:email'], clientSecret: 's3cret' });
  });

  test('When a GitHub Enterprise base URL ends with a slash, then paths are still appended once', () => {
    const [tenant] = parseTenants(tenantWith({ ghe: { type: 'github', display_name: 'GHE', client_id: 'c', client_secret_env: 'SECRET', base_url: 'https://ghe.acme.com/', api_url: 'https://ghe.acme.com/api/v3/' } }), env);
    expect(tenant!.providers[0]).toMatchObject({ baseUrl: 'https://ghe.acme.com', apiUrl: 'https://ghe.acme.com/api/v3' });
  });

  test('When a GitHub provider has an http API or a secret that is not set, then each problem names its path', () => {
    const problems = problemsOf({ github: { type: 'github', display_name: 'GitHub', client_id: 'c', client_secret_env: 'UNSET', api_url: 'http://ghe.acme.com/api/v3', scopes: ['read:user'] } });
    expect(problems).toEqual(['tenants[0].providers.github.client_secret_env names UNSET, which is not set', 'tenants[0].providers.github.api_url must be an https URL']);
  });

  test('When an Apple provider is configured, then its key is read from the environment and its issuer defaults to Apple', () => {
    const [tenant] = parseTenants(tenantWith({ apple: { type: 'apple', display_name: 'Apple', client_id: 'com.acme.web', team_id: 'ABCDE12345', key_id: 'KEY1234567', private_key_env: 'APPLE_KEY' } }), env);
    expect(tenant!.providers[0]).toMatchObject({ type: 'apple', issuer: 'https://appleid.apple.com', teamId: 'ABCDE12345', keyId: 'KEY1234567', scopes: ['openid', 'email', 'name'] });
  });

  test('When a Microsoft provider is configured for any work account, then any directory is allowed unless listed', () => {
    const [tenant] = parseTenants(tenantWith({ entra: { type: 'microsoft', display_name: 'Microsoft', client_id: 'c', client_secret_env: 'SECRET', directory: 'organizations' } }), env);
    expect(tenant!.providers[0]).toMatchObject({ type: 'microsoft', directory: 'organizations', allowedDirectories: [], authority: 'https://login.microsoftonline.com' });
  });

  test('When provider fields are wrong, then each problem names its path, and no key is quoted', () => {
    const problems = problemsOf({
      kind: { type: 'saml', display_name: 'X', client_id: 'c' },
      github: { type: 'github', display_name: 'GitHub', client_id: 'c', client_secret_env: 'SECRET', issuer: 'https://github.com', base_url: 'http://ghe.acme.com' },
      apple: { type: 'apple', display_name: 'Apple', client_id: 'c', team_id: 'team', key_id: 'KEY1234567', private_key_env: 'WRONG_KEY' },
      entra: { type: 'microsoft', display_name: 'Entra', client_id: 'c', client_secret_env: 'SECRET', directory: 'contoso.com', allowed_directories: ['not-a-guid'] },
      plain: { display_name: 'Plain', issuer: 'https://idp.acme.com', client_id: 'c', client_secret_env: 'SECRET', scopes: ['email'] },
    });
    expect(problems).toEqual([
      'tenants[0].providers.kind.type must be one of oidc, github, apple, microsoft',
      "tenants[0].providers.github.issuer is not a field of a 'github' provider",
      'tenants[0].providers.github.base_url must be an https URL',
      'tenants[0].providers.apple.team_id must be the 10-character team id',
      'tenants[0].providers.apple.private_key_env must hold a P-256 private key in PEM (the .p8 file)',
      'tenants[0].providers.entra.directory must be common, organizations, consumers or a directory id (a lowercase GUID)',
      'tenants[0].providers.entra.allowed_directories must be an array of directory ids (lowercase GUIDs)',
      "tenants[0].providers.plain.scopes must include 'openid'",
    ]);
    expect(problems.join('\n')).not.toContain('PRIVATE KEY');
  });

  test('When http endpoints are explicitly allowed, then every type accepts them (local test servers)', () => {
    const providers = {
      github: { type: 'github', display_name: 'G', client_id: 'c', client_secret_env: 'SECRET', base_url: 'http://localhost:8090/github', api_url: 'http://localhost:8090/github/api', allow_insecure_http: true },
      entra: { type: 'microsoft', display_name: 'E', client_id: 'c', client_secret_env: 'SECRET', directory: 'common', authority: 'http://localhost:8090/entra', allow_insecure_http: true },
      apple: { type: 'apple', display_name: 'A', client_id: 'c', team_id: 'ABCDE12345', key_id: 'KEY1234567', private_key_env: 'APPLE_KEY', issuer: 'http://localhost:8090/apple', allow_insecure_http: true },
    };
    expect(problemsOf(providers)).toEqual([]);
  });
});

describe('token-endpoint authentication of Microsoft providers', () => {
  test("When a Microsoft provider signs its assertions, then their audience is Entra's token endpoint unless configured, since its multi-tenant issuer is a template", () => {
    const entra = { type: 'microsoft', display_name: 'E', client_id: 'c', directory: 'organizations', token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'APPLE_KEY' };
    const byDefault = parseTenants(tenantWith({ entra }), env)[0]!.providers[0]!;
    const configured = parseTenants(tenantWith({ entra: { ...entra, client_assertion_audience: 'issuer' } }), env)[0]!.providers[0]!;
    expect(byDefault.type === 'microsoft' && byDefault.clientAuth.assertionAudience).toBe('token_endpoint');
    expect(configured.type === 'microsoft' && configured.clientAuth.assertionAudience).toBe('issuer');
  });
});
