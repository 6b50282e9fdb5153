import { TEST_USERS, type TestUser } from './users.js';

/** A confidential relying party registered at the dev identity provider. */
export interface DevIdpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
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
  /** Default TEST_USERS. */
  users?: readonly TestUser[];
  /** Receives one line per notable event; default: no output. */
  log?: (line: string) => void;
}

export interface ResolvedDevIdpOptions {
  port: number;
  host: string;
  issuer: string | undefined;
  clients: readonly DevIdpClient[];
  users: readonly TestUser[];
  log: (line: string) => void;
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
  const users = options.users ?? TEST_USERS;
  checkUsers(users);

  return {
    port,
    host: options.host ?? DEFAULT_HOST,
    issuer: options.issuer,
    clients: options.clients,
    users,
    log: options.log ?? (() => {}),
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
    checkNonEmptyString(client?.client_secret, `${path}.client_secret`);
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
