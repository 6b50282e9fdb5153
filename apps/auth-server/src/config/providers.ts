/**
 * The `providers` of a tenant in the tenants file: the fields every type
 * shares, then each type's own. Each failure names its path, for example
 * `tenants[0].providers.github.base_url must be an https URL`.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { needsClientSecret, parseClientAuth, type RawClientAuth } from './client-auth-config.js';
import { PROVIDER_TYPES, type ProviderConfig, type ProviderType } from '../tenants/tenant.js';
import { isOidcPreset, OIDC_PRESETS, PRESETS, presetIssuerProblem, type OidcPresetName } from './oidc-presets.js';
import { isObject, parseUrl } from './values.js';

export interface RawProvider extends RawClientAuth {
  /** `oidc` (default), `github`, `apple` or `microsoft`. */
  type?: ProviderType;
  display_name: string;
  client_id: string;
  scopes?: string[];
  /** Allows `http://` endpoints. Only for local development providers. */
  allow_insecure_http?: boolean;
  /** `oidc` and `apple` (for local test servers): the issuer. */
  issuer?: string;
  /** `oidc`: a well-known provider (`oidc-presets.ts`), whose issuer is filled in or checked. */
  preset?: OidcPresetName;
  /** `oidc`, `github`, `microsoft`: the environment variable that holds the client secret. */
  client_secret_env?: string;
  /** `github`: `https://github.com`, or a GitHub Enterprise Server. */
  base_url?: string;
  /** `github`: `https://api.github.com`, or a GitHub Enterprise Server's API. */
  api_url?: string;
  /** `apple`: the team id. */
  team_id?: string;
  /** `apple`: the key id of the team's private key; `oidc`, `microsoft`: the `kid` of the `private_key_jwt` key. */
  key_id?: string;
  /** `apple`: the environment variable that holds the team's private key (PKCS #8 PEM); `oidc`, `microsoft`: the `private_key_jwt` key. */
  private_key_env?: string;
  /** `microsoft`: `common`, `organizations`, `consumers` or a directory id. */
  directory?: string;
  /** `microsoft`: the directory ids whose users may sign in; empty or absent: any. */
  allowed_directories?: string[];
  /** `microsoft` (for local test servers): `https://login.microsoftonline.com`. */
  authority?: string;
}

type Fail = (path: string, message: string) => void;
type Env = Record<string, string | undefined>;

const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** A directory (tenant) id of Entra ID: a GUID. */
const DIRECTORY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHARED_FIELDS = ['type', 'display_name', 'client_id', 'scopes', 'allow_insecure_http'];
const CLIENT_AUTH_FIELDS = ['token_endpoint_auth_method', 'private_key_env', 'key_id', 'client_assertion_audience'];
const FIELDS: Record<ProviderType, readonly string[]> = {
  oidc: [...SHARED_FIELDS, ...CLIENT_AUTH_FIELDS, 'issuer', 'client_secret_env', 'preset'],
  github: [...SHARED_FIELDS, 'client_secret_env', 'base_url', 'api_url'],
  apple: [...SHARED_FIELDS, 'issuer', 'team_id', 'key_id', 'private_key_env'],
  microsoft: [...SHARED_FIELDS, ...CLIENT_AUTH_FIELDS, 'client_secret_env', 'directory', 'allowed_directories', 'authority'],
};
const DEFAULT_SCOPES: Record<ProviderType, string[]> = {
  oidc: ['openid', 'email', 'profile'],
  github: ['read:user', 'user:email'],
  apple: ['openid', 'email', 'name'],
  microsoft: ['openid', 'email', 'profile'],
};

export function parseProviders(raw: unknown, path: string, env: Env, fail: Fail): ProviderConfig[] {
  if (!isObject(raw) || Object.keys(raw).length === 0) {
    fail(path, 'must declare at least one provider');
    return [];
  }
  return Object.entries(raw).flatMap(([id, provider]) => {
    const at = `${path}.${id}`;
    if (!PROVIDER_ID.test(id)) fail(at, 'is not a valid provider id (^[a-z0-9][a-z0-9_-]{0,62}$)');
    if (!isObject(provider)) {
      fail(at, 'must be an object');
      return [];
    }
    const parsed = parseProvider(id, provider as Partial<RawProvider>, at, env, fail);
    return parsed ? [parsed] : [];
  });
}

function parseProvider(id: string, p: Partial<RawProvider>, at: string, env: Env, fail: Fail): ProviderConfig | undefined {
  const provider = parseTyped(id, p, at, env, fail);
  const scopes: unknown = p.scopes;
  if (scopes !== undefined && (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && SCOPE.test(scope)))) fail(`${at}.scopes`, 'must be an array of scope strings');
  else if (provider && provider.type !== 'github' && !provider.scopes.includes('openid')) fail(`${at}.scopes`, "must include 'openid'");
  return provider;
}

function parseTyped(id: string, p: Partial<RawProvider>, at: string, env: Env, fail: Fail): ProviderConfig | undefined {
  const type = p.type ?? 'oidc';
  if (!(PROVIDER_TYPES as readonly unknown[]).includes(type)) {
    fail(`${at}.type`, `must be one of ${PROVIDER_TYPES.join(', ')}`);
    return undefined;
  }
  // A field of another type is a mistake the provider would only reveal at the first login.
  for (const field of Object.keys(p)) {
    if (!FIELDS[type].includes(field)) fail(`${at}.${field}`, `is not a field of a '${type}' provider`);
  }
  if (typeof p.display_name !== 'string' || p.display_name.trim() === '') fail(`${at}.display_name`, 'must be a non-empty string');
  if (p.allow_insecure_http !== undefined && typeof p.allow_insecure_http !== 'boolean') fail(`${at}.allow_insecure_http`, 'must be a boolean');
  if (typeof p.client_id !== 'string' || p.client_id === '') fail(`${at}.client_id`, 'must be a non-empty string');
  const allowInsecureHttp = p.allow_insecure_http === true;
  const scopes = p.scopes ?? DEFAULT_SCOPES[type];
  const base = { id, displayName: p.display_name ?? id, clientId: p.client_id ?? '', scopes, allowInsecureHttp };
  const url = (field: keyof RawProvider, fallback?: string) => endpoint(p[field] ?? fallback, `${at}.${field}`, allowInsecureHttp, fail);
  // Paths are appended to these: `https://github.com/` and `https://github.com` are one base.
  const baseOf = (field: keyof RawProvider, fallback: string) => url(field, fallback).replace(/\/+$/, '');
  const secret = (field: keyof RawProvider) => secretFrom(p[field], `${at}.${field}`, env, fail);
  // Without a secret where the token endpoint takes a signed assertion, or nothing (`private_key_jwt`, `none`).
  const optionalSecret = () => (p.client_secret_env !== undefined || needsClientSecret(p) ? secret('client_secret_env') : '');

  switch (type) {
    case 'oidc':
      return { ...base, type, issuer: oidcIssuer(p, at, allowInsecureHttp, fail), clientSecret: optionalSecret(), clientAuth: parseClientAuth(p, at, env, fail) };
    case 'github':
      return { ...base, type, clientSecret: secret('client_secret_env'), baseUrl: baseOf('base_url', 'https://github.com'), apiUrl: baseOf('api_url', 'https://api.github.com') };
    case 'apple': {
      if (typeof p.team_id !== 'string' || !/^[A-Z0-9]{10}$/.test(p.team_id)) fail(`${at}.team_id`, 'must be the 10-character team id');
      if (typeof p.key_id !== 'string' || !/^[A-Z0-9]{10}$/.test(p.key_id)) fail(`${at}.key_id`, 'must be the 10-character key id');
      const privateKey = ecKeyFrom(secret('private_key_env'), `${at}.private_key_env`, fail);
      return { ...base, type, issuer: url('issuer', 'https://appleid.apple.com'), teamId: p.team_id ?? '', keyId: p.key_id ?? '', privateKey: privateKey! };
    }
    case 'microsoft': {
      const directory = p.directory;
      if (typeof directory !== 'string' || !(['common', 'organizations', 'consumers'].includes(directory) || DIRECTORY_ID.test(directory))) {
        fail(`${at}.directory`, 'must be common, organizations, consumers or a directory id (a lowercase GUID)');
      }
      const allowed = p.allowed_directories ?? [];
      if (!Array.isArray(allowed) || !allowed.every((tid) => typeof tid === 'string' && DIRECTORY_ID.test(tid))) {
        fail(`${at}.allowed_directories`, 'must be an array of directory ids (lowercase GUIDs)');
      }
      return {
        ...base,
        type,
        clientSecret: optionalSecret(),
        // Entra ID wants its token endpoint as the assertion's audience; its multi-tenant issuer is a template.
        clientAuth: parseClientAuth(p, at, env, fail, 'token_endpoint'),
        directory: directory ?? '',
        allowedDirectories: Array.isArray(allowed) ? allowed : [],
        authority: baseOf('authority', 'https://login.microsoftonline.com'),
      };
    }
  }
}

/** The issuer of an `oidc` provider: its preset's, if it has one and the file names none, and of the preset's shape. */
function oidcIssuer(p: Partial<RawProvider>, at: string, allowInsecureHttp: boolean, fail: Fail): string {
  const preset: unknown = p.preset;
  if (preset !== undefined && !isOidcPreset(preset)) fail(`${at}.preset`, `must be one of ${OIDC_PRESETS.join(', ')}`);
  const known = isOidcPreset(preset) ? preset : undefined;
  if (known && p.issuer === undefined && PRESETS[known].defaultIssuer === undefined) {
    fail(`${at}.issuer`, `is required for preset ${known}: ${PRESETS[known].looksLike}`);
    return '';
  }
  let malformed = false;
  const issuer = endpoint(p.issuer ?? (known && PRESETS[known].defaultIssuer), `${at}.issuer`, allowInsecureHttp, (path, message) => {
    malformed = true;
    fail(path, message);
  });
  const problem = known && !malformed ? presetIssuerProblem(known, issuer) : undefined;
  if (problem) fail(`${at}.issuer`, problem);
  return issuer;
}

/** An absolute URL without query or fragment: https, or http where the provider allows it (RFC 9700 §2.6). */
function endpoint(value: unknown, at: string, allowInsecureHttp: boolean, fail: Fail): string {
  const url = parseUrl(value);
  if (!url || url.search || url.hash) fail(at, 'must be an absolute URL without query or fragment');
  else if (url.protocol !== 'https:' && !(allowInsecureHttp && url.protocol === 'http:')) fail(at, 'must be an https URL');
  return typeof value === 'string' ? value : '';
}

function secretFrom(name: unknown, at: string, env: Env, fail: Fail): string {
  if (typeof name !== 'string' || name === '') fail(at, 'must name an environment variable');
  else if (!env[name]) fail(at, `names ${name}, which is not set`);
  else return env[name];
  return '';
}

/** A P-256 private key, for ES256. The key is not quoted in the failure: it is a secret. */
function ecKeyFrom(pem: string, at: string, fail: Fail): KeyObject | undefined {
  if (pem === '') return undefined;
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key;
  } catch {
    // Reported below, as a key of the wrong kind is.
  }
  fail(at, 'must hold a P-256 private key in PEM (the .p8 file)');
  return undefined;
}
