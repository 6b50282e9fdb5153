import { DEFAULT_PORT, type DevIdpClient } from '../options.js';

export interface CliConfig {
  port: number;
  clients: DevIdpClient[];
}

/** The demo client the auth server's dev configuration expects. */
const DEMO_CLIENT: DevIdpClient = {
  client_id: 'aimable-demo',
  client_secret: 'dev-secret-change-me',
  redirect_uris: ['http://localhost:8080/v1/auth/oidc/dev/callback'],
};

/**
 * The one place that reads the command line and the environment.
 * `--port` wins over DEV_IDP_PORT. Clients are checked in detail by startDevIdp.
 */
export function readCliConfig(argv: readonly string[], env: NodeJS.ProcessEnv): CliConfig {
  const portText = portArgument(argv) ?? env['DEV_IDP_PORT'];
  const port = portText === undefined || portText === '' ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`--port / DEV_IDP_PORT must be an integer between 0 and 65535, got "${portText}"`);
  }

  const clientsJson = env['DEV_IDP_CLIENTS'];
  if (clientsJson === undefined || clientsJson.trim() === '') return { port, clients: [DEMO_CLIENT] };
  let clients: unknown;
  try {
    clients = JSON.parse(clientsJson);
  } catch (error) {
    throw new Error(`DEV_IDP_CLIENTS is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(clients)) {
    throw new Error('DEV_IDP_CLIENTS must be a JSON array of { client_id, client_secret, redirect_uris }');
  }
  return { port, clients: clients as DevIdpClient[] };
}

function portArgument(argv: readonly string[]): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === '--port') return argv[i + 1] ?? '';
    if (arg.startsWith('--port=')) return arg.slice('--port='.length);
  }
  return undefined;
}
