import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { inject } from 'vitest';
import type { AuthStore } from '../../src/store/auth-store.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { createDatabase } from './postgres.js';
import './postgres-global-setup.js';

/**
 * The store a conformance test runs on: PostgreSQL under `pnpm
 * test:postgres`, SQLite under `pnpm test`. Each `fresh()` is an empty
 * database; `open()` opens another connection (another "instance") on it.
 */
export interface StoreUnderTest {
  dialect: AuthStore['dialect'];
  /** A new, empty database; `open` opens it. */
  fresh(): Promise<void>;
  open(options?: { migrate?: boolean }): Promise<AuthStore>;
  /** Runs one SQL statement on the database, outside any store. */
  exec(statement: string): Promise<void>;
  /** Removes SQLite's files (PostgreSQL's server goes with the run). */
  dispose(): void;
}

export function storeUnderTest(): StoreUnderTest {
  const serverUrl = inject('postgresUrl');
  const dir = mkdtempSync(join(tmpdir(), 'aimable-conformance-'));
  let location = '';
  let count = 0;
  return {
    dialect: serverUrl ? 'postgres' : 'sqlite',
    async fresh() {
      location = serverUrl ? await createDatabase(serverUrl) : join(dir, `store-${++count}.sqlite`);
    },
    async open(options = {}) {
      return (serverUrl ? await openPostgresStore(location, { ...options, pool: { max: 5 } }) : await openSqliteStore(location, options)).store;
    },
    async exec(statement) {
      if (serverUrl) {
        const client = new pg.Client({ connectionString: location });
        await client.connect();
        await client.query(statement).finally(() => client.end());
      } else {
        const database = new SqliteDatabase(location);
        try {
          database.exec(statement);
        } finally {
          database.close();
        }
      }
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
