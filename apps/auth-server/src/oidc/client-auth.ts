import { webcrypto, type KeyObject } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ClientAuthConfig, MicrosoftProviderConfig, OidcProviderConfig, TokenEndpointAuthMethod } from '../tenants/tenant.js';

/** The providers whose token endpoint authentication is chosen from discovery. */
type ClientAuthProvider = OidcProviderConfig | MicrosoftProviderConfig;

/**
 * How the server authenticates at a provider's token endpoint: the method is
 * chosen from what the provider's discovery lists and what the tenant
 * configures, in this order:
 *   1. the configured `token_endpoint_auth_method`;
 *   2. `private_key_jwt`, when a key is configured;
 *   3. `client_secret_basic`;
 *   4. `client_secret_post`;
 *   5. `none`, only when the provider lists nothing else: PKCE alone then
 *      protects the exchange, and the secret is not sent to a provider that
 *      does not want it.
 * A provider that lists no methods supports `client_secret_basic` (OpenID
 * Connect Discovery 1.0 §3).
 */
export function chooseTokenEndpointAuthMethod(listed: unknown, config: Pick<ClientAuthConfig, 'method' | 'privateKey' | 'configPath'>): TokenEndpointAuthMethod {
  const discovered = Array.isArray(listed) && listed.length > 0;
  const supported: unknown[] = discovered ? listed : ['client_secret_basic'];
  const whatDiscoveryLists = `its discovery's token_endpoint_auth_methods_supported is ${discovered ? JSON.stringify(listed) : 'absent (client_secret_basic only)'}`;
  if (config.method) {
    if (supported.includes(config.method)) return config.method;
    throw new ClientAuthDisagreement(`${config.configPath}.token_endpoint_auth_method is ${config.method}, which the provider does not support: ${whatDiscoveryLists}`);
  }
  if (config.privateKey && supported.includes('private_key_jwt')) return 'private_key_jwt';
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  if (supported.length === 1 && supported[0] === 'none') return 'none';
  throw new ClientAuthDisagreement(
    `${config.configPath} can use none of the token endpoint authentication methods the provider supports (${whatDiscoveryLists}): set token_endpoint_auth_method, with private_key_env for private_key_jwt`,
  );
}

/** The provider's discovery and the tenant's configuration name no method both accept: an operator must change one of them. */
export class ClientAuthDisagreement extends Error {
  override name = 'ClientAuthDisagreement';
}

/** The client authentication of one discovered provider. */
export interface TokenEndpointAuthentication {
  /** Handed to openid-client's discovery: authenticates each token request with the method settled after it. */
  readonly clientAuth: oidc.ClientAuth;
  /** Settles the method against the discovered metadata; throws `ClientAuthDisagreement`. */
  settle(metadata: oidc.ServerMetadata): Promise<TokenEndpointAuthMethod>;
}

/**
 * The method is known only once the provider's metadata is, and openid-client
 * takes the client authentication before it discovers: it gets one that
 * defers to the method settled right after. (Building a second
 * `Configuration` from the metadata would lose what discovery knows of the
 * provider, such as Entra's per-tenant issuer.)
 */
export function tokenEndpointAuthentication(provider: ClientAuthProvider): TokenEndpointAuthentication {
  let settled: oidc.ClientAuth | undefined;
  return {
    clientAuth: (as, client, body, headers) => {
      if (!settled) throw new Error('the token endpoint authentication method is not settled yet');
      return settled(as, client, body, headers);
    },
    async settle(metadata) {
      const method = chooseTokenEndpointAuthMethod(metadata.token_endpoint_auth_methods_supported, provider.clientAuth);
      settled = await clientAuthFor(method, provider, metadata);
      return method;
    },
  };
}

async function clientAuthFor(method: TokenEndpointAuthMethod, provider: ClientAuthProvider, metadata: oidc.ServerMetadata): Promise<oidc.ClientAuth> {
  switch (method) {
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(provider.clientSecret);
    case 'client_secret_post':
      return oidc.ClientSecretPost(provider.clientSecret);
    case 'none':
      return oidc.None();
    case 'private_key_jwt': {
      const { privateKey, keyId, assertionAudience } = provider.clientAuth;
      // chooseTokenEndpointAuthMethod picks it only with a key, and the configuration requires one for it.
      if (!privateKey) throw new ClientAuthDisagreement(`${provider.clientAuth.configPath}.private_key_env is required for private_key_jwt`);
      // RFC 7523 §3 as openid-client signs it: iss = sub = client_id, aud = the issuer identifier, a fresh jti, exp in 60 s.
      const key = await signingKey(privateKey);
      const tokenEndpoint = metadata.token_endpoint;
      // Some providers (Okta, Entra ID) check aud against their token endpoint's URL; the assertion goes to that URL only.
      const options: oidc.ModifyAssertionOptions = {};
      if (assertionAudience === 'token_endpoint' && tokenEndpoint) {
        options[oidc.modifyAssertion] = (_header, payload) => {
          payload.aud = tokenEndpoint;
        };
      }
      return oidc.PrivateKeyJwt(keyId === undefined ? key : { key, kid: keyId }, options);
    }
  }
}

/** The configured key as the WebCrypto key openid-client signs with: RS256 for RSA, ES256 for P-256 (the configuration allows no other). */
async function signingKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  const algorithm = privateKey.asymmetricKeyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256' };
  return webcrypto.subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), algorithm, false, ['sign']);
}

/** A provider type whose method is fixed by the provider itself (Apple's `client_secret_post`): nothing to settle against discovery. */
export function fixedTokenEndpointAuthentication(clientAuth: oidc.ClientAuth, method: TokenEndpointAuthMethod): TokenEndpointAuthentication {
  return { clientAuth, settle: () => Promise.resolve(method) };
}
