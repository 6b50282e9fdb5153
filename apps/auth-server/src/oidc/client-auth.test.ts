import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { chooseTokenEndpointAuthMethod } from './client-auth.js';

const configPath = 'tenants[2].providers.okta';
const withKey = { configPath, privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey };
const secretOnly = { configPath };

describe('choosing the token endpoint authentication method', () => {
  test('When the configured method is listed, then it is used, even over a key or basic', () => {
    expect(chooseTokenEndpointAuthMethod(['client_secret_basic', 'client_secret_post'], { configPath, method: 'client_secret_post' })).toBe('client_secret_post');
    expect(chooseTokenEndpointAuthMethod(['private_key_jwt', 'none'], { ...withKey, method: 'none' })).toBe('none');
  });

  test('When nothing is configured, then a key means private_key_jwt, else basic, else post', () => {
    expect(chooseTokenEndpointAuthMethod(['client_secret_post', 'client_secret_basic', 'private_key_jwt'], withKey)).toBe('private_key_jwt');
    expect(chooseTokenEndpointAuthMethod(['client_secret_post', 'client_secret_basic', 'private_key_jwt'], secretOnly)).toBe('client_secret_basic');
    expect(chooseTokenEndpointAuthMethod(['client_secret_basic'], withKey)).toBe('client_secret_basic');
    expect(chooseTokenEndpointAuthMethod(['none', 'client_secret_post'], secretOnly)).toBe('client_secret_post');
  });

  test('When the provider lists no methods, then client_secret_basic, its default (OpenID Connect Discovery §3)', () => {
    expect(chooseTokenEndpointAuthMethod(undefined, secretOnly)).toBe('client_secret_basic');
    expect(chooseTokenEndpointAuthMethod([], withKey)).toBe('client_secret_basic');
  });

  test("When 'none' is listed, then it is chosen unconfigured only when it is the only method", () => {
    expect(chooseTokenEndpointAuthMethod(['none'], secretOnly)).toBe('none');
    expect(() => chooseTokenEndpointAuthMethod(['none', 'private_key_jwt'], secretOnly)).toThrow(
      `tenants[2].providers.okta can use none of the token endpoint authentication methods the provider supports (its discovery's token_endpoint_auth_methods_supported is ["none","private_key_jwt"])`,
    );
  });

  test('When the configured method is not listed, then the failure names the path and what discovery lists', () => {
    expect(() => chooseTokenEndpointAuthMethod(['client_secret_basic'], { ...withKey, method: 'private_key_jwt' })).toThrow(
      `tenants[2].providers.okta.token_endpoint_auth_method is private_key_jwt, which the provider does not support: its discovery's token_endpoint_auth_methods_supported is ["client_secret_basic"]`,
    );
    expect(() => chooseTokenEndpointAuthMethod(undefined, { configPath, method: 'none' })).toThrow("token_endpoint_auth_method is none, which the provider does not support: its discovery's token_endpoint_auth_methods_supported is absent (client_secret_basic only)");
  });
});
