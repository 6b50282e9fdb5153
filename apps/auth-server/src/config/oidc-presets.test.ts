import { describe, expect, test } from 'vitest';
import { ConfigError } from '../config-error.js';
import { parseTenants } from './tenants.js';

const env = { SECRET: 's3cret' };

function parse(provider: Record<string, unknown>): { issuer?: string; problems: string[] } {
  const file = {
    tenants: [{ id: 'acme', providers: { idp: { display_name: 'IdP', client_id: 'c', client_secret_env: 'SECRET', ...provider } }, redirect_uris: ['https://app.acme.com/cb'], api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }] }],
  };
  try {
    const [tenant] = parseTenants(file, env);
    const configured = tenant!.providers[0]!;
    return { issuer: configured.type === 'oidc' ? configured.issuer : undefined, problems: [] };
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems };
    throw error;
  }
}

describe('OpenID Connect presets', () => {
  test('When preset google names no issuer, then Google is the issuer; and no other issuer is Google', () => {
    expect(parse({ preset: 'google' })).toEqual({ issuer: 'https://accounts.google.com', problems: [] });
    expect(parse({ preset: 'google', issuer: 'https://accounts.google.com/' }).problems).toEqual(['tenants[0].providers.idp.issuer must look like https://accounts.google.com for preset google']);
  });

  test('When preset gitlab names no issuer, then gitlab.com is the issuer; a self-managed instance names its own, without a trailing slash', () => {
    expect(parse({ preset: 'gitlab' }).issuer).toBe('https://gitlab.com');
    expect(parse({ preset: 'gitlab', issuer: 'https://code.acme.com/gitlab' }).issuer).toBe('https://code.acme.com/gitlab');
    expect(parse({ preset: 'gitlab', issuer: 'https://code.acme.com/' }).problems).toEqual([
      'tenants[0].providers.idp.issuer must look like https://gitlab.com or https://{your-gitlab-host}, without a trailing slash for preset gitlab',
    ]);
  });

  test("When preset okta is used, then the issuer is required and must be the org's or one of its authorization servers", () => {
    expect(parse({ preset: 'okta', issuer: 'https://acme.okta.com' }).issuer).toBe('https://acme.okta.com');
    expect(parse({ preset: 'okta', issuer: 'https://acme.okta.com/oauth2/default' }).issuer).toBe('https://acme.okta.com/oauth2/default');
    expect(parse({ preset: 'okta' }).problems).toEqual([
      'tenants[0].providers.idp.issuer is required for preset okta: https://{your-okta-domain} or https://{your-okta-domain}/oauth2/{authorization-server-id}',
    ]);
    expect(parse({ preset: 'okta', issuer: 'https://acme.okta.com/oauth2/default/v1/authorize' }).problems).toEqual([
      'tenants[0].providers.idp.issuer must look like https://{your-okta-domain} or https://{your-okta-domain}/oauth2/{authorization-server-id} for preset okta',
    ]);
  });

  test("When preset auth0's issuer lacks its trailing slash, then the error says so; with it, it is accepted as written", () => {
    expect(parse({ preset: 'auth0', issuer: 'https://acme.eu.auth0.com/' }).issuer).toBe('https://acme.eu.auth0.com/');
    expect(parse({ preset: 'auth0', issuer: 'https://acme.eu.auth0.com' }).problems).toEqual([
      "tenants[0].providers.idp.issuer must end with a slash for preset auth0: Auth0's issuer is https://acme.eu.auth0.com/, and its discovery document and ID tokens would not match https://acme.eu.auth0.com",
    ]);
    expect(parse({ preset: 'auth0', issuer: 'https://acme.eu.auth0.com/api/v2/' }).problems).toEqual([
      'tenants[0].providers.idp.issuer must look like https://{tenant}.{region}.auth0.com/ (or your custom domain), with the trailing slash for preset auth0',
    ]);
  });

  test("When preset keycloak is used, then the issuer must be a realm's, under /realms or an older server's /auth/realms", () => {
    expect(parse({ preset: 'keycloak', issuer: 'https://sso.acme.com/realms/staff' }).issuer).toBe('https://sso.acme.com/realms/staff');
    expect(parse({ preset: 'keycloak', issuer: 'https://sso.acme.com/auth/realms/staff' }).issuer).toBe('https://sso.acme.com/auth/realms/staff');
    expect(parse({ preset: 'keycloak', issuer: 'https://sso.acme.com/realms/staff/' }).problems).toEqual(['tenants[0].providers.idp.issuer must look like https://{host}/realms/{realm} for preset keycloak']);
    expect(parse({ preset: 'keycloak', issuer: 'https://sso.acme.com' }).problems).toEqual(['tenants[0].providers.idp.issuer must look like https://{host}/realms/{realm} for preset keycloak']);
  });

  test('When a preset is unknown, or the issuer is not https, then that is reported rather than the shape', () => {
    expect(parse({ preset: 'azure', issuer: 'https://login.example.com' }).problems).toEqual(['tenants[0].providers.idp.preset must be one of google, gitlab, okta, auth0, keycloak']);
    expect(parse({ preset: 'keycloak', issuer: 'http://sso.acme.com/realms/staff' }).problems).toEqual(['tenants[0].providers.idp.issuer must be an https URL']);
    expect(parse({ preset: 'keycloak', issuer: 'http://localhost:8081/realms/dev', allow_insecure_http: true }).issuer).toBe('http://localhost:8081/realms/dev');
  });

  test('When a provider of another type names a preset, then that is reported as a field it does not have', () => {
    expect(parse({ type: 'microsoft', preset: 'google', directory: 'common' }).problems).toEqual(["tenants[0].providers.idp.preset is not a field of a 'microsoft' provider"]);
  });
});
