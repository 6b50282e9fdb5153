import { generateKeyPairSync } from 'node:crypto';
import type { DevIdpClient, TokenEndpointAuthMethod } from '@aimable/dev-idp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RawProvider } from '../src/config/tenants.js';
import { loginThroughProvider, postSession, problemCode, startHarness, startUrl, type Harness } from './support/harness.js';
import { CLIENT_SECRET, OTHER_REDIRECT_URI, tenantsWith } from './support/tenants.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const unregistered = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const env = {
  RS256_KEY: rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
  ES256_JWK: JSON.stringify({ ...p256.privateKey.export({ format: 'jwk' }), kid: 'es-1' }),
  UNREGISTERED_KEY: unregistered.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
};
const publicJwk = (key: typeof rsa.publicKey, kid: string) => ({ ...key.export({ format: 'jwk' }), kid });

/** One provider of alpha per method, each its own client at the dev identity provider; ids with '-' and '.'. */
const providers: Record<string, { client: Omit<DevIdpClient, 'redirect_uris'>; config: Partial<RawProvider> }> = {
  basic: {
    client: { client_id: 'aimable-basic.client', client_secret: CLIENT_SECRET },
    config: { token_endpoint_auth_method: 'client_secret_basic', client_secret_env: 'TEST_CLIENT_SECRET' },
  },
  post: {
    client: { client_id: 'aimable-post.client', client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post' },
    config: { token_endpoint_auth_method: 'client_secret_post', client_secret_env: 'TEST_CLIENT_SECRET' },
  },
  rs256: {
    client: { client_id: 'aimable-rs256.client', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk(rsa.publicKey, 'rs-1')] } },
    config: { token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'RS256_KEY', key_id: 'rs-1' },
  },
  // No method configured: the key makes it private_key_jwt, though a secret is configured too.
  es256: {
    client: { client_id: 'aimable-es256.client', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk(p256.publicKey, 'es-1')] } },
    config: { private_key_env: 'ES256_JWK', client_secret_env: 'TEST_CLIENT_SECRET' },
  },
  public: {
    client: { client_id: 'aimable-public.client', token_endpoint_auth_method: 'none' },
    config: { token_endpoint_auth_method: 'none' },
  },
  wrongkey: {
    client: { client_id: 'aimable-wrongkey.client', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk(p256.publicKey, 'es-1')] } },
    config: { token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'UNREGISTERED_KEY', key_id: 'es-1' },
  },
};

let h: Harness;
const idpLog: string[] = [];

beforeAll(async () => {
  h = await startHarness({
    env,
    idp: (publicUrl) => ({
      clients: Object.entries(providers).map(([id, { client }]) => ({ ...client, redirect_uris: [`${publicUrl}/v1/auth/oidc/${id}/callback`] })),
      log: (line) => idpLog.push(line),
    }),
    tenants: (issuer) =>
      tenantsWith({
        alpha: {
          providers: Object.fromEntries(
            Object.entries(providers).map(([id, { client, config }]) => [id, { display_name: id, issuer, client_id: client.client_id, allow_insecure_http: true, ...config }]),
          ) as Record<string, RawProvider>,
        },
      })(issuer),
  });
});
afterAll(() => h?.close());

async function signInWith(provider: string): Promise<Response> {
  const login = await loginThroughProvider(h, { provider });
  return postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
}

describe('token endpoint authentication against the local identity provider', () => {
  test.each<[string, TokenEndpointAuthMethod]>([
    ['basic', 'client_secret_basic'],
    ['post', 'client_secret_post'],
    ['rs256', 'private_key_jwt'],
    ['es256', 'private_key_jwt'],
    ['public', 'none'],
  ])('When the provider %s signs a user in, then the session is created and the provider saw %s', async (provider, method) => {
    const created = await signInWith(provider);
    expect(created.status).toBe(201);
    expect(idpLog).toContain(`grant.success: ${providers[provider]!.client.client_id} authenticated with ${method}`);
    expect(h.logs.join('')).not.toContain(CLIENT_SECRET);
  });

  test('When the assertion is signed with a key the provider does not know, then 401 invalid_grant, and the log names the method and the provider error', async () => {
    const logsBefore = h.logs.length;
    const refused = await signInWith('wrongkey');
    expect(refused.status).toBe(401);
    expect(await problemCode(refused)).toBe('invalid_grant');
    const failure = h.logs.slice(logsBefore).find((line) => line.includes('request refused'))!;
    expect(failure).toContain('the code exchange, authenticated with private_key_jwt, failed: the provider answered invalid_client');
    expect(failure).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});

describe('a provider that lists only client_secret_post', () => {
  let hp: Harness;
  beforeAll(async () => {
    const local = (issuer: string, extra: Partial<RawProvider> = {}) => ({ display_name: 'Local', issuer, client_id: 'aimable-test', client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true, ...extra });
    hp = await startHarness({
      idp: (publicUrl) => ({
        clients: [{ client_id: 'aimable-test', client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [`${publicUrl}/v1/auth/oidc/dev/callback`] }],
        tokenEndpointAuthMethods: ['client_secret_post'],
        log: (line) => idpLog.push(line),
      }),
      // Alpha insists on basic; beta leaves the choice to discovery.
      tenants: (issuer) => tenantsWith({ alpha: { providers: { dev: local(issuer, { token_endpoint_auth_method: 'client_secret_basic' }) } }, beta: { providers: { dev: local(issuer) } } })(issuer),
    });
  });
  afterAll(() => hp?.close());

  test('When the method is left to discovery, then the server uses post and the sign-in completes', async () => {
    const login = await loginThroughProvider(hp, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
    const created = await postSession(hp, { code: login.code, state: login.state, code_verifier: login.verifier }, { tenant: 'beta' });
    expect(created.status).toBe(201);
    expect(idpLog).toContain('grant.success: aimable-test authenticated with client_secret_post');
  });

  test('When the configuration insists on basic, then the login cannot start: 502, and the log names the path and what discovery lists', async () => {
    const { url } = startUrl(hp);
    const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
    expect(started.status).toBe(502);
    expect(await problemCode(started)).toBe('provider_unavailable');
    expect(hp.logs.join('')).toContain(
      `tenants[0].providers.dev.token_endpoint_auth_method is client_secret_basic, which the provider does not support: its discovery's token_endpoint_auth_methods_supported is [\\"client_secret_post\\"]`,
    );
  });
});
