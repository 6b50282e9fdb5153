import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeProviders, fakeFor } from './fakes/index.js';
import { createProvider } from './oidc/create-provider.js';
import { createInteractionHandler, INTERACTION_PATH_PREFIX } from './interactions/interaction-routes.js';
import { resolveDevIdpOptions, type DevIdpOptions } from './options.js';

export interface RunningDevIdp {
  issuer: string;
  port: number;
  close(): Promise<void>;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Starts the provider. It listens first and builds the provider afterwards,
 * because the default issuer contains the port, which is only known once
 * listening on port 0 has succeeded.
 */
export async function startDevIdp(options: DevIdpOptions): Promise<RunningDevIdp> {
  const resolved = resolveDevIdpOptions(options);

  let handle: RequestHandler = (_req, res) => {
    res.writeHead(503, { 'Retry-After': '1' }).end('dev-idp is starting');
  };
  const server = createServer((req, res) => handle(req, res));
  const port = await listen(server, resolved.port, resolved.host);

  try {
    const issuer = resolved.issuer ?? `http://localhost:${port}`;
    const provider = createProvider({ issuer, clients: resolved.clients, tokenEndpointAuthMethods: resolved.tokenEndpointAuthMethods, users: resolved.users, log: resolved.log });
    const handleProvider = provider.callback();
    const handleInteraction = createInteractionHandler({ provider, users: resolved.users, log: resolved.log });
    const fakes = createFakeProviders({ origin: issuer.replace(/\/+$/, ''), users: resolved.users, log: resolved.log }, resolved.fakes);

    handle = (req, res) => {
      const fake = fakeFor(fakes, req.url);
      if (fake) {
        void Promise.resolve(fake.handle(req, res)).catch((error: unknown) => {
          resolved.log(`${fake.prefix}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end('fake provider error');
        });
      } else if (req.url?.startsWith(INTERACTION_PATH_PREFIX)) {
        void handleInteraction(req, res);
      } else {
        void handleProvider(req, res);
      }
    };

    resolved.log(`dev-idp listening on ${resolved.host}:${port}, issuer ${issuer}`);
    // Idempotent, so a test's afterAll may close a provider the test already closed.
    let closing: Promise<void> | undefined;
    return { issuer, port, close: () => (closing ??= close(server)) };
  } catch (error) {
    await close(server);
    throw error;
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(new Error(`dev-idp could not listen on ${host}:${port}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive connections (fetch keeps them by default) would otherwise hold close() open.
    server.closeAllConnections();
  });
}
