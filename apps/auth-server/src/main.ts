import { loadServerConfig } from './config/load.js';
import { ConfigError } from './config-error.js';
import { startServer } from './server.js';

/**
 * The production entry point: the tenants named by AUTH_TENANTS_FILE, and
 * nothing else. Without it the server does not start (the demo, with its
 * published key and test users, is `pnpm start`, a separate entry point).
 */
let server;
try {
  server = await startServer({ config: loadServerConfig(process.env) });
} catch (error) {
  // A configuration the server refuses (the environment, the tenants file, a data directory others can read).
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(78);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const forced = setTimeout(() => process.exit(1), 10_000);
    forced.unref();
    void server.close().then(() => process.exit(0));
  });
}
