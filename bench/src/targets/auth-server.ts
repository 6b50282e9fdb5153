/**
 * The auth server as production runs it (NODE_ENV=production: responses not
 * validated; JSON logs at info, to its stdout), on SQLite in
 * BENCH_DATA_DIR or on PostgreSQL when DATABASE_URL is set, with one tenant
 * on the local identity provider at BENCH_ISSUER. Rate limits count as
 * always, with limits far above the load. Prints `ready <port>`.
 */
import { buildServerConfig, parseTenants, startServer } from '@aimable/auth-server';
import { BENCH_API_KEY_SHA256, BENCH_CLIENT, BENCH_TENANT, REDIRECT_URI } from '../fixtures.js';

const port = Number(process.env.PORT);
const unlimited = { points: 1e9, globalPoints: 1e9 };
const server = await startServer({
  config: buildServerConfig({
    port,
    host: '127.0.0.1',
    dataDir: process.env.BENCH_DATA_DIR!,
    databaseUrl: process.env.DATABASE_URL || undefined,
    validateResponses: false,
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'info',
    rateLimits: { start: unlimited, session: unlimited, refresh: unlimited, api: unlimited },
    tenants: parseTenants(
      {
        tenants: [
          {
            id: BENCH_TENANT,
            providers: { dev: { display_name: 'Local', issuer: process.env.BENCH_ISSUER!, client_id: BENCH_CLIENT.id, client_secret_env: 'BENCH_SECRET', allow_insecure_http: true } },
            redirect_uris: [REDIRECT_URI],
            api_keys: [{ id: 'k', sha256: BENCH_API_KEY_SHA256 }],
          },
        ],
      },
      { BENCH_SECRET: BENCH_CLIENT.secret },
    ),
  }),
});
process.stdout.write(`ready ${server.port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
