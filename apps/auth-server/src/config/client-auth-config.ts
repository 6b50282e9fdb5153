/**
 * A provider's token-endpoint authentication, as the tenants file gives it:
 * `token_endpoint_auth_method`, and for `private_key_jwt` the key, read from
 * the environment variable `private_key_env` names (PEM or JWK), with an
 * optional `key_id`. Each failure names its path; none quotes a key.
 */
import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { TOKEN_ENDPOINT_AUTH_METHODS, type ClientAuthConfig, type TokenEndpointAuthMethod } from '../tenants/tenant.js';

export interface RawClientAuth {
  /** `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`; default: chosen from the provider's discovery. */
  token_endpoint_auth_method?: string;
  /** Name of the environment variable that holds the private key for `private_key_jwt`: PEM, or a JWK as JSON. */
  private_key_env?: string;
  /** The `kid` the provider knows the key by; default: the JWK's own `kid`, if any. */
  key_id?: string;
  /** The assertion's `aud`: `issuer` (default) or `token_endpoint`, for providers that still want the endpoint's URL. */
  client_assertion_audience?: string;
}

type Fail = (path: string, message: string) => void;

/** The provider's client authentication; `at` is its path, `tenants[0].providers.google`. */
export function parseClientAuth(
  raw: RawClientAuth,
  at: string,
  env: Record<string, string | undefined>,
  fail: Fail,
  defaultAudience: ClientAuthConfig['assertionAudience'] = 'issuer',
): ClientAuthConfig {
  const clientAuth: ClientAuthConfig = { configPath: at, assertionAudience: defaultAudience };
  const method = raw.token_endpoint_auth_method;
  if (method !== undefined) {
    if (isTokenEndpointAuthMethod(method)) clientAuth.method = method;
    else fail(`${at}.token_endpoint_auth_method`, `must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
  }
  if (raw.private_key_env !== undefined) {
    const key = readPrivateKeyEnv(raw.private_key_env, `${at}.private_key_env`, env, fail);
    if (key) {
      clientAuth.privateKey = key.privateKey;
      if (key.keyId !== undefined) clientAuth.keyId = key.keyId;
    }
  } else if (method === 'private_key_jwt') {
    fail(`${at}.private_key_env`, 'must name the environment variable that holds the private key when token_endpoint_auth_method is private_key_jwt');
  }
  if (raw.key_id !== undefined) {
    if (typeof raw.key_id !== 'string' || raw.key_id === '') fail(`${at}.key_id`, 'must be a non-empty string');
    else if (raw.private_key_env === undefined) fail(`${at}.key_id`, 'names the key of private_key_env, which is not set');
    else clientAuth.keyId = raw.key_id;
  }
  const audience = raw.client_assertion_audience;
  if (audience === 'issuer' || audience === 'token_endpoint') clientAuth.assertionAudience = audience;
  else if (audience !== undefined) fail(`${at}.client_assertion_audience`, 'must be issuer or token_endpoint');
  return clientAuth;
}

/** Whether the provider's configuration needs `client_secret_env`: every method but these two may end up sending the secret. */
export function needsClientSecret(raw: RawClientAuth): boolean {
  return raw.token_endpoint_auth_method !== 'private_key_jwt' && raw.token_endpoint_auth_method !== 'none';
}

/**
 * A signing key from the environment variable `name`, checked to be one the
 * server signs with: RSA of at least 2048 bits (RS256) or EC P-256 (ES256).
 * Its `kid` is the JWK's, when it is given as one.
 */
export function readPrivateKeyEnv(name: unknown, path: string, env: Record<string, string | undefined>, fail: Fail): { privateKey: KeyObject; keyId?: string } | undefined {
  if (typeof name !== 'string' || name === '') {
    fail(path, 'must name an environment variable');
    return undefined;
  }
  const text = env[name];
  if (!text) {
    fail(path, `names ${name}, which is not set`);
    return undefined;
  }
  const parsed = parsePrivateKey(text);
  if (!parsed) {
    fail(path, `names ${name}, which does not hold a private key as PEM or as a JWK`);
    return undefined;
  }
  const unsupported = unsupportedKeyReason(parsed.privateKey);
  if (unsupported) {
    fail(path, `names ${name}, which holds ${unsupported}; use an RSA key of at least 2048 bits (RS256) or an EC P-256 key (ES256)`);
    return undefined;
  }
  return parsed;
}

function parsePrivateKey(text: string): { privateKey: KeyObject; keyId?: string } | undefined {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as JsonWebKey & { kid?: unknown };
      const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
      return typeof jwk.kid === 'string' && jwk.kid !== '' ? { privateKey, keyId: jwk.kid } : { privateKey };
    }
    // Environments often carry a PEM on one line, its line breaks written as `\n`.
    const pem = trimmed.includes('\n') ? trimmed : trimmed.replaceAll('\\n', '\n');
    return { privateKey: createPrivateKey(pem) };
  } catch {
    return undefined;
  }
}

function unsupportedKeyReason(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return (details.modulusLength ?? 0) >= 2048 ? undefined : `an RSA key of ${details.modulusLength ?? 0} bits`;
  if (key.asymmetricKeyType === 'ec') return details.namedCurve === 'prime256v1' ? undefined : `an EC key on ${details.namedCurve ?? 'an unknown curve'}`;
  return `a key of type ${key.asymmetricKeyType ?? 'unknown'}`;
}

function isTokenEndpointAuthMethod(value: unknown): value is TokenEndpointAuthMethod {
  return (TOKEN_ENDPOINT_AUTH_METHODS as readonly unknown[]).includes(value);
}
