import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyAuthStore } from './kysely-store.js';
import type { OpenedStore } from './runtime.js';
import type { Database } from './schema.js';

/** The pool's settings: the same on every instance, sized so that instances × `max` stays below the server's `max_connections`. */
export interface PoolSettings {
  /** Connections per instance. */
  max: number;
  /** How long a request waits for a free connection before it is answered 503. */
  acquireTimeoutMs: number;
  /** How long one statement may run before PostgreSQL cancels it. */
  statementTimeoutMs: number;
  /** How long an idle connection is kept open. */
  idleTimeoutMs: number;
}

export const POOL_DEFAULTS: PoolSettings = { max: 10, acquireTimeoutMs: 2_000, statementTimeoutMs: 5_000, idleTimeoutMs: 30_000 };

const INT8_OID = 20;

/**
 * `bigint` columns (epoch milliseconds) as numbers: node-postgres hands them
 * out as strings, since not every int8 fits a double. Every value this store
 * keeps does; one that does not is an error, not a silently rounded time.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} is outside the safe integer range`);
  return value;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface OpenedPostgres extends OpenedStore {
  /** The pool, shared with the rate limiter. */
  pool: pg.Pool;
}

/** Opens the PostgreSQL store at `url` with a pool of its own. */
export async function openPostgresStore(
  url: string,
  options: { pool?: Partial<PoolSettings>; migrate?: boolean; onConnectionError?: (error: Error) => void } = {},
): Promise<OpenedPostgres> {
  const settings = { ...POOL_DEFAULTS, ...options.pool };
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.max,
    connectionTimeoutMillis: settings.acquireTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    // A transaction left open by a dead request must not hold its locks for ever.
    idle_in_transaction_session_timeout: Math.max(settings.statementTimeoutMs * 2, 10_000),
    application_name: 'aimable-auth',
    types,
  });
  // A connection that breaks while idle in the pool is dropped by the pool. One that breaks while a request holds it
  // (between the statements of a transaction) fails that request, and the pool drops it when it comes back. Either
  // way the event must be handled: unhandled, it would end the process.
  pool.on('error', (error) => options.onConnectionError?.(error));
  pool.on('connect', (client) => client.on('error', (error) => options.onConnectionError?.(error)));
  const store = await KyselyAuthStore.open(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), {
    dialect: 'postgres',
    migrate: options.migrate ?? true,
    rowLocks: true,
  });
  const runtime = {
    // A commit is durable when it returns.
    settle: () => Promise.resolve(),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: settings.max }),
  };
  return { store, runtime, applied: store.applied, pool };
}
