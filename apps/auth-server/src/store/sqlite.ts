import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase as KyselySqliteDatabase, type SqliteStatement } from 'kysely';
import { KyselyAuthStore } from './kysely-store.js';
import type { Database } from './schema.js';

/** Statements kept prepared: every query the store makes, with room to spare. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The database as Kysely's driver sees it, with each statement prepared
 * once: the driver prepares every query anew otherwise, which costs about
 * four times running a cached statement. better-sqlite3 runs one statement
 * at a time, to its end, so a cached statement is never in use twice.
 */
function withStatementCache(database: SqliteDatabase.Database): KyselySqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
        statement = database.prepare(sql) as unknown as SqliteStatement;
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/** Opens (creating if needed) the embedded SQLite store at `filename`. */
export async function openSqliteStore(filename: string, options: { migrate?: boolean } = {}): Promise<KyselyAuthStore> {
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
  const database = new SqliteDatabase(filename);
  database.pragma('journal_mode = WAL');
  // FULL: a commit that was answered survives a crash of the process and of the machine.
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return KyselyAuthStore.open(new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) }), { dialect: 'sqlite', ...options });
}
