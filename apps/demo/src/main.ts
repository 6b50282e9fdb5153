#!/usr/bin/env node
/**
 * `pnpm start`: the whole demo with no other step. The auth server runs the
 * demo tenant (its API key is published in this repository) beside the
 * local identity provider, whose test users all have the password
 * `password`, the demo app on http://localhost:5173 and the same app in
 * React on http://localhost:5174, and the server-rendered app (Next.js, on
 * the backend-for-frontend of `@aimable/auth-node`) on
 * http://localhost:3000. With AUTH_TENANTS_FILE set, it runs
 * those tenants instead, without the demo tenant, the local provider or
 * the apps. Metrics are served on
 * http://127.0.0.1:9464/metrics unless AUTH_METRICS_PORT says otherwise.
 *
 * `--mock` (`pnpm demo --mock`): the demo apps against the Prism mock of the
 * contract instead of the server.
 */
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, loadServerConfig, startServer } from '@aimable/auth-server';
import { DEFAULT_MOCK_PORT, startMock } from '@aimable/auth-mock';
import { startDevIdp, TEST_USERS } from '@aimable/dev-idp';
import { DEMO_ADMIN_API_KEY, DEMO_API_KEY, DEMO_APPLE_KEY_ENV, DEMO_CLIENT_SECRET, DEMO_CLIENT_SECRET_ENV, demoAppleKey, demoDevIdpClient, demoFakeApple, demoFakeProviders, demoTenantsFile } from './demo-tenant.js';
import { serveDemoSsr } from './ssr.js';
import { serveDemoWeb } from './web.js';

const env = process.env;
const DEMO_METRICS_PORT = 9464;
const { values: flags } = parseArgs({ options: { mock: { type: 'boolean', default: false } } });

function port(name: string, fallback: number): number {
  const value = env[name] ? Number(env[name]) : fallback;
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    console.error(`Invalid configuration:\n  - ${name} must be an integer between 0 and 65535`);
    process.exit(78);
  }
  return value;
}
const devIdpPort = port('DEV_IDP_PORT', 8090);
const webPort = port('DEMO_WEB_PORT', 5173);
const reactPort = port('DEMO_REACT_PORT', 5174);
const ssrPort = port('DEMO_SSR_PORT', 3000);

if (flags.mock) {
  const mock = await startMock({ port: port('MOCK_PORT', DEFAULT_MOCK_PORT) });
  const mockConfig = { apiBaseUrl: mock.url.replace('127.0.0.1', 'localhost'), tenantId: 'demo', apiKey: DEMO_API_KEY, mock: true };
  const web = await serveDemoWeb({ port: webPort, config: mockConfig });
  const react = await serveDemoWeb({ app: '@aimable/demo-react', port: reactPort, config: mockConfig });
  console.log(['', `Aimable Auth demo app against the mock of the contract (${mock.url}): examples, not a real login`, `  open ${web.url}`, `  the same app in React: ${react.url}`, ''].join('\n'));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void Promise.all([mock.close(), web.close(), react.close()]).then(() => process.exit(0)));
  await new Promise(() => undefined);
}

/** Whether nothing listens on the port yet: a second instance beside the first finds the demo apps' and the metrics' ports taken. */
function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
// Another instance beside this one (on the same PostgreSQL, with other PORT, DEV_IDP_PORT and AUTH_PUBLIC_URL) already
// serves the demo apps on their default ports, and the metrics on theirs: this one then leaves the apps to it, and serves
// its metrics on a port of its own.
const serveWeb = env.DEMO_WEB_PORT !== undefined || (await isFree(webPort));
const serveReact = env.DEMO_REACT_PORT !== undefined || (await isFree(reactPort));
const serveSsr = env.DEMO_SSR_PORT !== undefined || (await isFree(ssrPort));
const metricsPort = env.AUTH_METRICS_PORT ?? ((await isFree(DEMO_METRICS_PORT)) ? String(DEMO_METRICS_PORT) : '0');

const devIdpIssuer = `http://localhost:${devIdpPort}`;
const webOrigin = `http://localhost:${webPort}`;
const reactOrigin = `http://localhost:${reactPort}`;
const ssrOrigin = `http://localhost:${ssrPort}`;
const demo = !env.AUTH_TENANTS_FILE;

const appleKey = demoAppleKey();
const demoSecrets = { [DEMO_CLIENT_SECRET_ENV]: DEMO_CLIENT_SECRET, [DEMO_APPLE_KEY_ENV]: appleKey.privateKeyPem };

let config;
try {
  config = loadServerConfig({ ...env, AUTH_METRICS_PORT: metricsPort }, { fallbackTenants: { file: demoTenantsFile(devIdpIssuer, webOrigin, reactOrigin, ssrOrigin), secrets: demoSecrets }, plaintextKeys: demo ? 'allow' : 'warn' });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(78);
}

const devIdp = demo
  ? await startDevIdp({
      port: devIdpPort,
      issuer: devIdpIssuer,
      clients: [demoDevIdpClient(config.publicUrl, webOrigin, reactOrigin, ssrOrigin)],
      fakes: { ...demoFakeProviders(config.publicUrl), apple: demoFakeApple(config.publicUrl, appleKey.publicKey) },
    })
  : undefined;
let server;
try {
  server = await startServer({ config });
} catch (error) {
  // A data directory or database file others can read, say: said plainly, not as a stack.
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  await devIdp?.close();
  process.exit(78);
}
const webConfig = { apiBaseUrl: config.publicUrl, tenantId: 'demo', apiKey: DEMO_API_KEY };
const web = devIdp && serveWeb ? await serveDemoWeb({ port: webPort, config: webConfig }) : undefined;
const react = devIdp && serveReact ? await serveDemoWeb({ app: '@aimable/demo-react', port: reactPort, config: webConfig }) : undefined;
const ssr = devIdp && serveSsr ? await serveDemoSsr({ port: ssrPort, config: { authUrl: config.publicUrl, audience: config.accessTokenAudience, tenantId: 'demo', apiKey: DEMO_API_KEY } }) : undefined;

if (devIdp) {
  console.log(
    [
      '',
      `Aimable Auth demo on ${config.publicUrl}  (DEMO ONLY: its API key and test users are public)`,
      web ? `  open ${web.url} and sign in as ada / password` : `  the demo app on ${webOrigin} is another instance's: this one serves the API only`,
      ssr ? `  rendered on the server (Next.js, tokens kept by its server): ${ssr.url}` : `  the server-rendered demo app on ${ssrOrigin} is another instance's`,
      react ? `  the same app in React: ${react.url}` : `  the React demo app on ${reactOrigin} is another instance's`,
      `  store: ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL), shared with every instance on it' : `SQLite in ${config.databaseFile}`}`,
      `  API reference: ${config.publicUrl}/docs`,
      `  local identity provider: ${devIdp.issuer}`,
      `  tenant: demo   providers: ${config.tenants[0]?.providers.map((provider) => provider.id).join(', ')}   API key: ${DEMO_API_KEY}`,
      `  audit log: curl -H 'X-API-Key: ${DEMO_ADMIN_API_KEY}' ${config.publicUrl}/v1/admin/audit-events`,
      ...(server.metricsUrl ? [`  metrics: ${server.metricsUrl}`] : []),
      `  frontend redirect URIs: ${config.tenants[0]?.redirectUris.join(', ')}`,
      `  test users (password "password"): ${TEST_USERS.map((u) => u.username).join(', ')}`,
      '',
    ].join('\n'),
  );
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const forced = setTimeout(() => process.exit(1), 10_000);
    forced.unref();
    void Promise.all([server.close(), devIdp?.close(), web?.close(), react?.close(), ssr?.close()]).then(() => process.exit(0));
  });
}
