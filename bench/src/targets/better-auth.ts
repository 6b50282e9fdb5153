/**
 * The peer: Better Auth on better-sqlite3 (a file in WAL mode, as a real
 * deployment would run it), email and password sign-in, the jwt plugin,
 * cookie cache off so that every get-session reads the database, and its
 * own rate limit off (ours is off in the benchmark too). Prints
 * `ready <port>` once it listens.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { jwt } from 'better-auth/plugins';

const port = Number(process.env.PORT);
const database = new Database(join(process.env.BENCH_DATA_DIR ?? '.', 'better-auth.sqlite'));
database.pragma('journal_mode = WAL');
const options = {
  database,
  secret: 'bench-secret-of-better-auth-0123456789abcdef',
  baseURL: `http://localhost:${port}`,
  emailAndPassword: { enabled: true },
  session: { cookieCache: { enabled: false } },
  rateLimit: { enabled: false },
  logger: { disabled: true },
  plugins: [jwt()],
};
await (await getMigrations(options)).runMigrations();
const auth = betterAuth(options);
const server = createServer(toNodeHandler(auth));
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
