#!/usr/bin/env node
/**
 * `pnpm start`: the whole demo with no other step. The auth server runs the
 * demo tenant (its API key is published in this repository) beside the
 * local identity provider, whose test users all have the password
 * `password`. With AUTH_TENANTS_FILE set, it runs those tenants instead,
 * without the demo tenant or the local provider.
 */
import { ConfigError, loadServerConfig, startServer } from '@aimable/auth-server';
import { startDevIdp, TEST_USERS } from '@aimable/dev-idp';
import { DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CLIENT_SECRET_ENV, demoTenantsFile } from './demo-tenant.js';

const env = process.env;
const devIdpPort = env.DEV_IDP_PORT ? Number(env.DEV_IDP_PORT) : 8090;
if (!Number.isInteger(devIdpPort) || devIdpPort < 0 || devIdpPort > 65_535) {
  console.error('Invalid configuration:\n  - DEV_IDP_PORT must be an integer between 0 and 65535');
  process.exit(78);
}
const devIdpIssuer = `http://localhost:${devIdpPort}`;
const demo = !env.AUTH_TENANTS_FILE;

let config;
try {
  config = loadServerConfig(env, { fallbackTenants: { file: demoTenantsFile(devIdpIssuer), secrets: { [DEMO_CLIENT_SECRET_ENV]: DEMO_CLIENT_SECRET } } });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(78);
}

const devIdp = demo
  ? await startDevIdp({
      port: devIdpPort,
      issuer: devIdpIssuer,
      clients: [{ client_id: DEMO_CLIENT_ID, client_secret: DEMO_CLIENT_SECRET, redirect_uris: [`${config.publicUrl}/v1/auth/oidc/dev/callback`] }],
    })
  : undefined;
const server = await startServer({ config });

if (devIdp) {
  console.log(
    [
      '',
      `Aimable Auth demo on ${config.publicUrl}  (DEMO ONLY: its API key and test users are public)`,
      `  local identity provider: ${devIdp.issuer}`,
      `  tenant: demo   provider: dev   API key: ${DEMO_API_KEY}`,
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
    void Promise.all([server.close(), devIdp?.close()]).then(() => process.exit(0));
  });
}
