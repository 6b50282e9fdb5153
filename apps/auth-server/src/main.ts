import { startDevIdp, TEST_USERS } from '@aimable/dev-idp';
import { DEMO_API_KEY } from './config/demo.js';
import { loadServerConfig } from './config/load.js';
import { ConfigError } from './config/tenants.js';
import { startServer } from './server.js';

let loaded;
try {
  loaded = loadServerConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(78);
}

const devIdp = loaded.devIdp
  ? await startDevIdp({ port: loaded.devIdp.port, issuer: loaded.devIdp.issuer, clients: loaded.devIdp.clients })
  : undefined;
const server = await startServer({ config: loaded.server });

if (devIdp) {
  console.log(
    [
      '',
      `Aimable Auth (demo) on ${loaded.server.publicUrl}`,
      `  local identity provider: ${devIdp.issuer}`,
      `  tenant: demo   provider: dev   API key: ${DEMO_API_KEY}`,
      `  frontend redirect URIs: ${loaded.server.tenants[0]?.redirectUris.join(', ')}`,
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
