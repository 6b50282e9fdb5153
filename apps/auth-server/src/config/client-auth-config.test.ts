import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../config-error.js';
import { parseTenants, type RawProvider, type RawTenantsFile } from './tenants.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const env = {
  SECRET: 's3cret',
  RSA_PEM: rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
  RSA_PEM_ONE_LINE: (rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string).replaceAll('\n', '\\n'),
  P256_JWK: JSON.stringify({ ...p256.privateKey.export({ format: 'jwk' }), kid: 'jwk-kid' }),
  PUBLIC_PEM: rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string,
  NOT_A_KEY: 'hunter2-not-a-key',
  SMALL_RSA: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
  P384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
  ED25519: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
};

function tenantsWith(provider: Partial<RawProvider>): RawTenantsFile {
  const base = { display_name: 'Okta', issuer: 'https://acme.okta.com', client_id: 'acme-web.app' };
  return { tenants: [{ id: 'acme', providers: { okta: { ...base, ...provider } }, redirect_uris: ['https://app.acme.com/cb'], api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }] }] };
}

function problemsOf(provider: Partial<RawProvider>): string[] {
  try {
    parseTenants(tenantsWith(provider), env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function oidcProviderOf(provider: Partial<RawProvider>) {
  const parsed = parseTenants(tenantsWith(provider), env)[0]!.providers[0]!;
  if (parsed.type !== 'oidc') throw new Error(`expected an oidc provider, got ${parsed.type}`);
  return parsed;
}
const clientAuthOf = (provider: Partial<RawProvider>) => oidcProviderOf(provider).clientAuth;

describe('token endpoint authentication in the tenants file', () => {
  test('When a provider names neither method nor key, then the secret is required as before and the method is left to discovery', () => {
    expect(clientAuthOf({ client_secret_env: 'SECRET' })).toEqual({ configPath: 'tenants[0].providers.okta', assertionAudience: 'issuer' });
    expect(problemsOf({})).toEqual(['tenants[0].providers.okta.client_secret_env must name an environment variable']);
    expect(problemsOf({ token_endpoint_auth_method: 'client_secret_post' })).toEqual(['tenants[0].providers.okta.client_secret_env must name an environment variable']);
  });

  test('When the method is private_key_jwt or none, then no secret is needed', () => {
    expect(problemsOf({ token_endpoint_auth_method: 'none' })).toEqual([]);
    const auth = clientAuthOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'RSA_PEM', key_id: 'k1' });
    expect(auth).toMatchObject({ method: 'private_key_jwt', keyId: 'k1' });
    expect(auth.privateKey?.asymmetricKeyType).toBe('rsa');
    expect(oidcProviderOf({ token_endpoint_auth_method: 'none' }).clientSecret).toBe('');
  });

  test('When the key is a JWK, then its kid is used unless key_id names another; a PEM on one line with \\n is read', () => {
    expect(clientAuthOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'P256_JWK' })).toMatchObject({ keyId: 'jwk-kid' });
    expect(clientAuthOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'P256_JWK', key_id: 'mine' })).toMatchObject({ keyId: 'mine' });
    expect(clientAuthOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'RSA_PEM_ONE_LINE' }).privateKey?.asymmetricKeyType).toBe('rsa');
  });

  test('When the method or the assertion audience is unknown, then the error names the path and the choices', () => {
    expect(problemsOf({ client_secret_env: 'SECRET', token_endpoint_auth_method: 'client_secret_jwt' })).toEqual([
      'tenants[0].providers.okta.token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, private_key_jwt, none',
    ]);
    expect(problemsOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'RSA_PEM', client_assertion_audience: 'token-endpoint' })).toEqual([
      'tenants[0].providers.okta.client_assertion_audience must be issuer or token_endpoint',
    ]);
    expect(clientAuthOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'RSA_PEM', client_assertion_audience: 'token_endpoint' }).assertionAudience).toBe('token_endpoint');
  });

  test('When private_key_jwt has no key, or key_id no key, then the error names the path', () => {
    expect(problemsOf({ token_endpoint_auth_method: 'private_key_jwt' })).toEqual([
      'tenants[0].providers.okta.private_key_env must name the environment variable that holds the private key when token_endpoint_auth_method is private_key_jwt',
    ]);
    expect(problemsOf({ client_secret_env: 'SECRET', key_id: 'k1' })).toEqual(['tenants[0].providers.okta.key_id names the key of private_key_env, which is not set']);
    expect(problemsOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'UNSET_KEY' })).toEqual(['tenants[0].providers.okta.private_key_env names UNSET_KEY, which is not set']);
  });

  test('When the key cannot be read or is of a kind the server does not sign with, then the error names the path and never quotes the key', () => {
    const at = 'tenants[0].providers.okta.private_key_env';
    const unreadable = (name: string) => problemsOf({ token_endpoint_auth_method: 'private_key_jwt', private_key_env: name });
    expect(unreadable('NOT_A_KEY')).toEqual([`${at} names NOT_A_KEY, which does not hold a private key as PEM or as a JWK`]);
    expect(unreadable('PUBLIC_PEM')).toEqual([`${at} names PUBLIC_PEM, which does not hold a private key as PEM or as a JWK`]);
    const advice = 'use an RSA key of at least 2048 bits (RS256) or an EC P-256 key (ES256)';
    expect(unreadable('SMALL_RSA')).toEqual([`${at} names SMALL_RSA, which holds an RSA key of 1024 bits; ${advice}`]);
    expect(unreadable('P384')).toEqual([`${at} names P384, which holds an EC key on secp384r1; ${advice}`]);
    expect(unreadable('ED25519')).toEqual([`${at} names ED25519, which holds a key of type ed25519; ${advice}`]);
    expect(unreadable('NOT_A_KEY').join('')).not.toContain('hunter2');
  });
});
