import { join } from 'node:path';
import type pg from 'pg';
import { openPostgresStore, type PoolSettings } from './postgres.js';
import { preparePrivateDataDir } from './private-files.js';
import type { OpenedStore } from './runtime.js';
import type { SyncLog } from './sqlite/group-commit.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

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

/** What the store tells of failures that no request sees. */
export interface StoreEvents {
  /** A pooled PostgreSQL connection failed; the pool replaces it. */
  onConnectionError: (error: Error) => void;
  /** SQLite's checkpoint worker failed; SQLite checkpoints on its own again. */
  onBackgroundError: (error: Error) => void;
}

/** Opens the configured store: PostgreSQL when `databaseUrl` is set, else the SQLite file (in a private data directory). */
export async function openStore(location: StoreLocation, events: StoreEvents, syncLog?: SyncLog): Promise<OpenedStore & { pool?: pg.Pool }> {
  const { onConnectionError, onBackgroundError } = events;
  if (location.databaseUrl !== undefined) {
    return openPostgresStore(location.databaseUrl, { pool: location.pool, migrate: location.migrateOnStart, onConnectionError });
  }
  if (location.databaseFile !== ':memory:') preparePrivateDataDir(join(location.databaseFile, '..'));
  return openSqliteStore(location.databaseFile, {
    migrate: location.migrateOnStart,
    syncEachCommit: location.syncEachCommit ?? false,
    onBackgroundError,
    ...(syncLog ? { syncLog } : {}),
  });
}
