import type { JsonWebKey } from 'node:crypto';
import type { FakeProvidersOptions } from './fakes/index.js';
import { TEST_USERS, type TestUser } from './users.js';

/** How a client authenticates at the token endpoint (OAuth 2.0 Dynamic Client Registration §2). */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
const TOKEN_ENDPOINT_AUTH_METHODS: readonly string[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];

/** A relying party registered at the dev identity provider. */
export interface DevIdpClient {
  client_id: string;
  /** Required, except for `private_key_jwt` and `none`. */
  client_secret?: string;
  redirect_uris: string[];
  /** Default `client_secret_basic` (which, as oidc-provider does, also accepts `client_secret_post`). */
  token_endpoint_auth_method?: TokenEndpointAuthMethod;
  /** The public keys of a `private_key_jwt` client. */
  jwks?: { keys: JsonWebKey[] };
  /** Where the provider may send the browser after an RP-initiated sign-out. */
  post_logout_redirect_uris?: string[];
  /** Where the provider posts a logout token when the user signs out here (Back-Channel Logout 1.0); ID tokens then carry `sid`. */
  backchannel_logout_uri?: string;
}

export interface DevIdpOptions {
  /** Default 8090; 0 picks a free port. */
  port?: number;
  /** Listen address, default '127.0.0.1'. */
  host?: string;
  /** Default `http://localhost:${actualPort}`, resolved after listening. */
  issuer?: string;
  clients: DevIdpClient[];
  /**
   * What discovery lists as token_endpoint_auth_methods_supported, and all
   * the token endpoint accepts. Default: client_secret_basic,
   * client_secret_post and the methods the clients register.
   */
  tokenEndpointAuthMethods?: TokenEndpointAuthMethod[];
  /** Default TEST_USERS. */
  users?: readonly TestUser[];
  /** Receives one line per notable event; default: no output. */
  log?: (line: string) => void;
  /** Local fakes of providers the tests can't reach (GitHub, Apple, Entra), served under their own path prefixes. */
  fakes?: FakeProvidersOptions;
}

export interface ResolvedDevIdpOptions {
  port: number;
  host: string;
  issuer: string | undefined;
  clients: readonly DevIdpClient[];
  tokenEndpointAuthMethods: readonly TokenEndpointAuthMethod[];
  users: readonly TestUser[];
  log: (line: string) => void;
  fakes: FakeProvidersOptions;
}

export const DEFAULT_PORT = 8090;
const DEFAULT_HOST = '127.0.0.1';

/**
 * Checks the options once, before anything listens, so that a mistake fails
 * startup with a message naming the offending path instead of surfacing later
 * as an obscure OAuth error in the middle of a login.
 */
export function resolveDevIdpOptions(options: DevIdpOptions): ResolvedDevIdpOptions {
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new TypeError(`port must be an integer between 0 and 65535, got ${String(port)}`);
  }
  if (options.issuer !== undefined) checkHttpUrl(options.issuer, 'issuer');
  checkClients(options.clients);
  const tokenEndpointAuthMethods = options.tokenEndpointAuthMethods ?? [
    ...new Set<TokenEndpointAuthMethod>(['client_secret_basic', 'client_secret_post', ...options.clients.map(authMethodOf)]),
  ];
  checkAuthMethods(tokenEndpointAuthMethods, options.clients);
  const users = options.users ?? TEST_USERS;
  checkUsers(users);

  return {
    port,
    host: options.host ?? DEFAULT_HOST,
    issuer: options.issuer,
    clients: options.clients,
    tokenEndpointAuthMethods,
    users,
    log: options.log ?? (() => {}),
    fakes: options.fakes ?? {},
  };
}

function checkClients(clients: unknown): void {
  if (!Array.isArray(clients) || clients.length === 0) {
    throw new TypeError('clients must be a non-empty array');
  }
  const seen = new Set<string>();
  clients.forEach((client: Partial<DevIdpClient> | null, i) => {
    const path = `clients[${i}]`;
    checkNonEmptyString(client?.client_id, `${path}.client_id`);
    const method = client?.token_endpoint_auth_method;
    if (method !== undefined && !TOKEN_ENDPOINT_AUTH_METHODS.includes(method)) {
      throw new TypeError(`${path}.token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
    }
    if (method === 'private_key_jwt') {
      if (!Array.isArray(client?.jwks?.keys) || client.jwks.keys.length === 0) throw new TypeError(`${path}.jwks must hold the client's public keys for private_key_jwt`);
    } else if (method !== 'none') {
      checkNonEmptyString(client?.client_secret, `${path}.client_secret`);
    }
    if (seen.has(client!.client_id!)) throw new TypeError(`${path}.client_id "${client!.client_id}" is registered twice`);
    seen.add(client!.client_id!);
    const uris: unknown = client?.redirect_uris;
    if (!Array.isArray(uris) || uris.length === 0) {
      throw new TypeError(`${path}.redirect_uris must be a non-empty array`);
    }
    uris.forEach((uri, j) => checkHttpUrl(uri, `${path}.redirect_uris[${j}]`));
    const postLogout: unknown = client?.post_logout_redirect_uris;
    if (postLogout !== undefined) {
      if (!Array.isArray(postLogout)) throw new TypeError(`${path}.post_logout_redirect_uris must be an array`);
      postLogout.forEach((uri, j) => checkHttpUrl(uri, `${path}.post_logout_redirect_uris[${j}]`));
    }
    if (client?.backchannel_logout_uri !== undefined) checkHttpUrl(client.backchannel_logout_uri, `${path}.backchannel_logout_uri`);
  });
}

/** The method a client registers; oidc-provider's default. */
export function authMethodOf(client: DevIdpClient): TokenEndpointAuthMethod {
  return client.token_endpoint_auth_method ?? 'client_secret_basic';
}

function checkAuthMethods(methods: unknown, clients: readonly DevIdpClient[]): void {
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((method) => TOKEN_ENDPOINT_AUTH_METHODS.includes(method))) {
    throw new TypeError(`tokenEndpointAuthMethods must be a non-empty array of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
  }
  clients.forEach((client, i) => {
    if (!methods.includes(authMethodOf(client))) throw new TypeError(`clients[${i}].token_endpoint_auth_method ${authMethodOf(client)} is not among tokenEndpointAuthMethods`);
  });
}

function checkUsers(users: readonly TestUser[]): void {
  const usernames = new Set<string>();
  const subs = new Set<string>();
  users.forEach((user, i) => {
    const path = `users[${i}]`;
    checkNonEmptyString(user.username, `${path}.username`);
    checkNonEmptyString(user.sub, `${path}.sub`);
    if (usernames.has(user.username)) throw new TypeError(`${path}.username "${user.username}" is used twice`);
    if (subs.has(user.sub)) throw new TypeError(`${path}.sub "${user.sub}" is used twice`);
    usernames.add(user.username);
    subs.add(user.sub);
  });
}

function checkNonEmptyString(value: unknown, path: string): void {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${path} must be a non-empty string`);
}

function checkHttpUrl(value: unknown, path: string): void {
  checkNonEmptyString(value, path);
  let protocol: string | undefined;
  try {
    protocol = new URL(value as string).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new TypeError(`${path} must be an absolute http(s) URL, got "${String(value)}"`);
  }
}
