/**
 * The tenant configuration file: its raw shape, and the checks that turn it
 * into a validated `TenantConfig[]`. Each failure names its path, for
 * example `tenants[1].providers.google.issuer must be an https URL`.
 */
import { ConfigError } from '../config-error.js';
import { parseProviders, type RawProvider } from './providers.js';

export type { RawProvider };
import { API_KEY_SCOPES, DEFAULT_API_KEY_SCOPES, DEFAULT_SESSION_POLICY, type ApiKeyConfig, type ApiKeyScope, type SessionPolicy, type TenantConfig } from '../tenants/tenant.js';
import { isObject, parseUrl } from './values.js';

export interface RawTenantsFile {
  tenants: RawTenant[];
}

export interface RawTenant {
  id: string;
  providers: Record<string, RawProvider>;
  redirect_uris: string[];
  /** Where the provider may send the browser after signing out. Default: the origin of each redirect URI, with the path `/`. */
  post_logout_redirect_uris?: string[];
  cors_origins?: string[];
  api_keys: RawApiKey[];
  session_policy?: Partial<RawSessionPolicy>;
}

export interface RawApiKey {
  id: string;
  /** The lowercase hex SHA-256 of the key. */
  sha256: string;
  /** What the key may do: `refresh`, `audit:read`. Default: `["refresh"]`. */
  scopes?: string[];
}

export interface RawSessionPolicy {
  access_token_ttl_seconds: number;
  absolute_lifetime_seconds: number;
  idle_timeout_seconds: number;
  refresh_reuse_grace_seconds: number;
  cookie_same_site: 'Strict' | 'Lax' | 'None';
  frontend_pkce: 'required' | 'optional';
}

const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Validates the tenants file; secrets are read from `env` by name. Throws `ConfigError` listing every problem. */
export function parseTenants(raw: unknown, env: Record<string, string | undefined>): TenantConfig[] {
  const problems: string[] = [];
  const fail = (path: string, message: string) => problems.push(`${path} ${message}`);
  const file = raw as Partial<RawTenantsFile> | null;
  if (!isObject(file) || !Array.isArray(file.tenants) || file.tenants.length === 0) {
    throw new ConfigError(['tenants must be a non-empty array']);
  }
  const seen = new Set<string>();
  const tenants = file.tenants.map((tenant, index) => {
    const path = `tenants[${index}]`;
    if (!isObject(tenant)) {
      fail(path, 'must be an object');
      return undefined;
    }
    if (typeof tenant.id !== 'string' || !TENANT_ID.test(tenant.id)) fail(`${path}.id`, 'must match ^[a-z0-9][a-z0-9-]{0,62}$');
    else if (seen.has(tenant.id)) fail(`${path}.id`, `'${tenant.id}' is declared twice`);
    else seen.add(tenant.id);

    const providers = parseProviders(tenant.providers, `${path}.providers`, env, fail);
    const redirectUris = parseRedirectUris(tenant.redirect_uris, `${path}.redirect_uris`, fail);
    const postLogoutRedirectUris =
      tenant.post_logout_redirect_uris === undefined
        ? [...new Set(redirectUris.map((uri) => `${new URL(uri).origin}/`))]
        : Array.isArray(tenant.post_logout_redirect_uris) && tenant.post_logout_redirect_uris.length === 0
          ? []
          : parseRedirectUris(tenant.post_logout_redirect_uris, `${path}.post_logout_redirect_uris`, fail);
    const corsOrigins =
      tenant.cors_origins === undefined
        ? [...new Set(redirectUris.map((uri) => new URL(uri).origin))]
        : parseOrigins(tenant.cors_origins, `${path}.cors_origins`, fail);
    const apiKeyHashes = parseApiKeys(tenant.api_keys, `${path}.api_keys`, fail);
    const sessionPolicy = parseSessionPolicy(tenant.session_policy, `${path}.session_policy`, fail);
    return { id: tenant.id, providers, redirectUris, postLogoutRedirectUris, corsOrigins, apiKeyHashes, sessionPolicy } satisfies TenantConfig;
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return tenants as TenantConfig[];
}

type Fail = (path: string, message: string) => void;

function parseRedirectUris(raw: unknown, path: string, fail: Fail): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    fail(path, 'must be a non-empty array of URLs');
    return [];
  }
  return raw.filter((uri, i) => {
    const url = parseUrl(uri);
    if (!url || url.hash || url.href !== uri) {
      fail(`${path}[${i}]`, 'must be an absolute URL in normal form, without fragment');
      return false;
    }
    // WHATWG URLs keep some characters RFC 3986 does not allow (`|`, `^`, `` ` ``); the contract's `format: uri` refuses them.
    if (/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/.test(uri as string)) {
      fail(`${path}[${i}]`, 'must be a URI (RFC 3986): percent-encode other characters');
      return false;
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
      fail(`${path}[${i}]`, 'must be an https URL (http only on localhost)');
      return false;
    }
    return true;
  }) as string[];
}

function parseOrigins(raw: unknown, path: string, fail: Fail): string[] {
  if (!Array.isArray(raw)) {
    fail(path, 'must be an array of origins');
    return [];
  }
  return raw.filter((origin, i) => {
    const url = parseUrl(origin);
    if (!url || url.origin !== origin) {
      fail(`${path}[${i}]`, 'must be an origin such as https://app.example.com');
      return false;
    }
    return true;
  }) as string[];
}

function parseApiKeys(raw: unknown, path: string, fail: Fail): ApiKeyConfig[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    fail(path, 'must declare at least one key');
    return [];
  }
  return raw.flatMap((key, i): ApiKeyConfig[] => {
    if (!isObject(key) || typeof key.id !== 'string' || key.id === '') fail(`${path}[${i}].id`, 'must be a non-empty string');
    else if (typeof key.sha256 !== 'string' || !SHA256_HEX.test(key.sha256)) fail(`${path}[${i}].sha256`, 'must be the lowercase hex SHA-256 of the key');
    else {
      const scopes = parseScopes(key.scopes, `${path}[${i}].scopes`, fail);
      return scopes ? [{ id: key.id, sha256: key.sha256, scopes }] : [];
    }
    return [];
  });
}

function parseScopes(raw: unknown, path: string, fail: Fail): ApiKeyScope[] | undefined {
  if (raw === undefined) return [...DEFAULT_API_KEY_SCOPES];
  const known: readonly string[] = API_KEY_SCOPES;
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((scope) => typeof scope === 'string' && known.includes(scope))) {
    fail(path, `must be a non-empty array of ${API_KEY_SCOPES.join(', ')}`);
    return undefined;
  }
  return [...new Set(raw as ApiKeyScope[])];
}

function parseSessionPolicy(raw: unknown, path: string, fail: Fail): SessionPolicy {
  if (raw === undefined) return DEFAULT_SESSION_POLICY;
  if (!isObject(raw)) {
    fail(path, 'must be an object');
    return DEFAULT_SESSION_POLICY;
  }
  const r = raw as Partial<RawSessionPolicy>;
  const seconds = (name: keyof RawSessionPolicy, fallback: number, min: number) => {
    const value = r[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(`${path}.${name}`, `must be an integer of at least ${min}`);
    return typeof value === 'number' ? value : fallback;
  };
  const policy: SessionPolicy = {
    accessTokenTtlSeconds: seconds('access_token_ttl_seconds', DEFAULT_SESSION_POLICY.accessTokenTtlSeconds, 1),
    absoluteLifetimeSeconds: seconds('absolute_lifetime_seconds', DEFAULT_SESSION_POLICY.absoluteLifetimeSeconds, 1),
    idleTimeoutSeconds: seconds('idle_timeout_seconds', DEFAULT_SESSION_POLICY.idleTimeoutSeconds, 1),
    refreshReuseGraceSeconds: seconds('refresh_reuse_grace_seconds', DEFAULT_SESSION_POLICY.refreshReuseGraceSeconds, 0),
    cookieSameSite: r.cookie_same_site ?? DEFAULT_SESSION_POLICY.cookieSameSite,
    frontendPkce: r.frontend_pkce ?? DEFAULT_SESSION_POLICY.frontendPkce,
  };
  if (!['Strict', 'Lax', 'None'].includes(policy.cookieSameSite)) fail(`${path}.cookie_same_site`, 'must be Strict, Lax or None');
  if (!['required', 'optional'].includes(policy.frontendPkce)) fail(`${path}.frontend_pkce`, 'must be required or optional');
  if (policy.idleTimeoutSeconds > policy.absoluteLifetimeSeconds) fail(`${path}.idle_timeout_seconds`, 'must not exceed absolute_lifetime_seconds');
  return policy;
}
