/**
 * The store can no longer make commits durable (SQLite's failed sync of its
 * log): final, not a disk that an operator frees. The store answers no more
 * and says so itself; it is unavailable, but not a storage failure.
 */
export class DurabilityLost extends Error {}

/**
 * Whether an error means the database cannot serve now, rather than that
 * the request or the code is wrong: no free connection in the pool, a
 * connection lost or refused, the server shutting down or out of
 * connections, a statement cancelled by its timeout, a conflict that
 * outlived its retries, or SQLite busy. Such a request answers 503 with
 * `Retry-After`; a retry may succeed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (storageFailureCode(error) !== undefined) return true;
  for (let each: unknown = error, depth = 0; each instanceof Error && depth < 5; each = each.cause, depth++) {
    const code = (each as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2)))) return true;
    if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(each.message))) return true;
  }
  return false;
}

/**
 * The code of an error that means the database's storage cannot take a
 * write: full, failing or read-only. SQLite: `SQLITE_FULL`,
 * `SQLITE_IOERR*` and `SQLITE_READONLY*`; PostgreSQL: `53100`
 * (disk_full), `58030` (io_error) and `25006` (read_only_sql_transaction). Undefined for any
 * other error. An operator fixes these; until then every write fails, and
 * the instance is not ready.
 */
export function storageFailureCode(error: unknown): string | undefined {
  for (let each: unknown = error, depth = 0; each instanceof Error && depth < 5; each = each.cause, depth++) {
    // A failed sync of the log is final, not a disk that an operator frees: the store answers no more, and says so itself.
    if (each instanceof DurabilityLost) return undefined;
    const code = (each as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (STORAGE_FAILURE_SQLSTATES.has(code) || /^SQLITE_(FULL|IOERR|READONLY)(_|$)/.test(code)) return code;
  }
  return undefined;
}

/** disk_full, io_error, read_only_sql_transaction. */
const STORAGE_FAILURE_SQLSTATES = new Set(['53100', '58030', '25006']);

/** Network errors, PostgreSQL SQLSTATEs and SQLite result codes. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled (statement timeout), idle session timeout
  '57P01', '57P02', '57P03', '57014', '57P05',
  // serialization_failure, deadlock_detected: after the store's own retries
  '40001', '40P01',
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT',
  // The write-ahead log could not be synced (group commit): this instance answers no more, and is not ready.
  'SQLITE_IOERR_FSYNC',
]);

/** Connection exception (08), insufficient resources (53: too many connections, out of memory or disk). */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(['08', '53']);

/** node-postgres states these in its messages only. */
const UNAVAILABLE_MESSAGES = [
  /^timeout exceeded when trying to connect$/i,
  /^Connection terminated/i,
  /^Client has encountered a connection error and is not queryable$/i,
  /^Cannot use a pool after calling end on the pool$/i,
];
