import { join } from 'node:path';
import type pg from 'pg';
import { prepareDataDir } from '../tokens/key-material.js';
import type { KyselyAuthStore } from './kysely-store.js';
import { openPostgresStore, type PoolSettings } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { SyncLog } from './wal-sync.js';

export interface StoreLocation {
  /** PostgreSQL; undefined for the SQLite file in `dataDir`. */
  databaseUrl: string | undefined;
  pool: PoolSettings;
  migrateOnStart: boolean;
  /** SQLite's file, when there is no `databaseUrl`. */
  databaseFile: string;
  /** SQLite: sync each commit as it is made, not by group commit (the operator's commands). */
  syncEachCommit?: boolean;
}

/** Opens the configured store: PostgreSQL when `databaseUrl` is set, else the SQLite file (in a private data directory). */
export async function openStore(location: StoreLocation, onConnectionError: (error: Error) => void, syncLog?: SyncLog): Promise<{ store: KyselyAuthStore; pool?: pg.Pool }> {
  if (location.databaseUrl !== undefined) {
    return openPostgresStore(location.databaseUrl, { pool: location.pool, migrate: location.migrateOnStart, onConnectionError });
  }
  if (location.databaseFile !== ':memory:') prepareDataDir(join(location.databaseFile, '..'));
  return { store: await openSqliteStore(location.databaseFile, { migrate: location.migrateOnStart, syncEachCommit: location.syncEachCommit ?? false, ...(syncLog ? { syncLog } : {}) }) };
}
