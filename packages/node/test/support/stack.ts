import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServerConfig, parseTenants, startServer, type RunningServer } from '@aimable/auth-server';
import { startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import express from 'express';
import { createBff, expressBff, memorySessionStore, sessionOf, type Bff, type BffOptions, type BffSessionStore } from '../../src/index.js';

export const API_KEY = 'ak_test_bff_app_5b1e7c';
export const ADMIN_API_KEY = 'ak_test_bff_admin_9d2f40';
const CLIENT_SECRET = 'test-client-secret';

/** A clock the test moves by hand, shared by the auth server and the BFF. */
export class ManualClock {
  current = Date.now();
  now = () => this.current;
  advance(ms: number): void {
    this.current += ms;
  }
}

export interface Stack {
  /** The app's origin, `http://localhost:{port}`. */
  appUrl: string;
  authUrl: string;
  bff: Bff;
  store: BffSessionStore;
  clock: ManualClock;
  /** The path of every call the app's BFF made to the auth server, in order. */
  calls: string[];
  /** Another BFF on the same store: a second process of the same app. */
  secondProcess(): Bff;
  close(): Promise<void>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The real auth server on a fresh database, the real local identity
 * provider, and an Express app that signs in through the BFF: `/` renders
 * the user's name on the server, `/api/me` answers it as JSON.
 */
export async function startStack(): Promise<Stack> {
  const clock = new ManualClock();
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-bff-test-'));
  const [authPort, appPort] = [await freePort(), await freePort()];
  const authUrl = `http://localhost:${authPort}`;
  const appUrl = `http://localhost:${appPort}`;
  const idp: RunningDevIdp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'aimable-test', client_secret: CLIENT_SECRET, redirect_uris: [`${authUrl}/v1/auth/oidc/dev/callback`] }],
  });
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const tenants = parseTenants(
    {
      tenants: [
        {
          id: 'alpha',
          providers: { dev: { display_name: 'Local', issuer: idp.issuer, client_id: 'aimable-test', client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true } },
          redirect_uris: [`${appUrl}/auth/callback`],
          api_keys: [
            { id: 'app', sha256: sha256(API_KEY) },
            { id: 'admin', sha256: sha256(ADMIN_API_KEY), scopes: ['audit:read'] },
          ],
        },
      ],
    },
    { TEST_CLIENT_SECRET: CLIENT_SECRET },
  );
  const unlimited = { points: 100_000, globalPoints: 1_000_000 };
  const server: RunningServer = await startServer({
    config: buildServerConfig({ port: authPort, host: '127.0.0.1', dataDir, tenants, providerTimeoutSeconds: 5, rateLimits: { start: unlimited, session: unlimited, refresh: unlimited, api: unlimited } }),
    clock,
    logDestination: { write: () => undefined },
  });

  const store = memorySessionStore({ now: clock.now });
  const calls: string[] = [];
  const bffOptions: BffOptions = { authUrl, tenantId: 'alpha', apiKey: API_KEY, appUrl, store, now: clock.now };
  const bff = createBff({
    ...bffOptions,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      calls.push(new URL(request.url).pathname);
      return fetch(request);
    },
  });
  const app = express();
  app.use(expressBff(bff, { appUrl }));
  app.get('/', async (req, res) => {
    const session = await sessionOf(bff, req);
    res.type('html').send(session ? `<h1>Hello, ${escapeHtml(session.user.name ?? '')}</h1>` : `<a href="${bff.signInHref('dev')}">Sign in</a>`);
  });
  app.get('/api/me', async (req, res) => {
    const session = await sessionOf(bff, req);
    if (!session) res.status(401).json({ code: 'signed_out' });
    else res.json({ name: session.user.name, email: session.user.email });
  });
  const listener: Server = await new Promise((resolve) => {
    const started = app.listen(appPort, '127.0.0.1', () => resolve(started));
  });
  if ((listener.address() as AddressInfo).port !== appPort) throw new Error('the app did not get its port');

  return {
    appUrl,
    authUrl,
    bff,
    store,
    clock,
    calls,
    secondProcess: () => createBff(bffOptions),
    close: async () => {
      await new Promise<void>((resolve) => {
        listener.close(() => resolve());
        listener.closeAllConnections();
      });
      await server.close();
      await idp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
