import { parseArgs } from 'node:util';
import { DEFAULT_PORT, type DevIdpClient } from '../options.js';

export interface CliConfig {
  port: number;
  /** Listen address; startDevIdp's default (127.0.0.1) when not given. */
  host: string | undefined;
  /** The issuer URL; startDevIdp's default (http://localhost:<port>) when not given. */
  issuer: string | undefined;
  clients: DevIdpClient[];
  help: boolean;
}

export const CLI_USAGE = `Usage: aimable-dev-idp [--port N] [--host ADDRESS] [--issuer URL]

A local OpenID Connect provider with test users, for development and tests. Never for production.

  --port    DEV_IDP_PORT     default 8090; 0 picks a free port
  --host    DEV_IDP_HOST     listen address, default 127.0.0.1
  --issuer  DEV_IDP_ISSUER   the issuer URL, default http://localhost:<port> (set it behind a proxy or in a container)
            DEV_IDP_CLIENTS  a JSON array of { client_id, client_secret, redirect_uris }, each optionally with
                             token_endpoint_auth_method (and jwks for private_key_jwt); default: the demo client
                             (aimable-demo / dev-secret-change-me, http://localhost:8080/v1/auth/oidc/dev/callback)`;

/** The demo client the auth server's dev configuration expects. */
const DEMO_CLIENT: DevIdpClient = {
  client_id: 'aimable-demo',
  client_secret: 'dev-secret-change-me',
  redirect_uris: ['http://localhost:8080/v1/auth/oidc/dev/callback'],
};

/**
 * The one place that reads the command line and the environment.
 * A flag wins over its variable (`--port` over DEV_IDP_PORT). The issuer and
 * the clients are checked in detail by startDevIdp.
 */
export function readCliConfig(argv: readonly string[], env: NodeJS.ProcessEnv): CliConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: 'string' }, host: { type: 'string' }, issuer: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  const portText = values.port ?? env['DEV_IDP_PORT'];
  const port = portText === undefined || portText === '' ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`--port / DEV_IDP_PORT must be an integer between 0 and 65535, got "${portText}"`);
  }
  const host = nonEmpty(values.host ?? env['DEV_IDP_HOST']);
  const issuer = nonEmpty(values.issuer ?? env['DEV_IDP_ISSUER']);

  const clientsJson = env['DEV_IDP_CLIENTS'];
  if (clientsJson === undefined || clientsJson.trim() === '') return { port, host, issuer, clients: [DEMO_CLIENT], help: values.help };
  let clients: unknown;
  try {
    clients = JSON.parse(clientsJson);
  } catch (error) {
    throw new Error(`DEV_IDP_CLIENTS is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(clients)) {
    throw new Error('DEV_IDP_CLIENTS must be a JSON array of { client_id, client_secret, redirect_uris }');
  }
  return { port, host, issuer, clients: clients as DevIdpClient[], help: values.help };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
