import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyAuthStore } from './kysely-store.js';
import type { Database } from './schema.js';

/** Opens (creating if needed) the embedded SQLite store at `filename`. */
export async function openSqliteStore(filename: string, options: { migrate?: boolean } = {}): Promise<KyselyAuthStore> {
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
  const database = new SqliteDatabase(filename);
  database.pragma('journal_mode = WAL');
  // FULL: a commit that was answered survives a crash of the process and of the machine.
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return KyselyAuthStore.open(new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), { dialect: 'sqlite', ...options });
}
