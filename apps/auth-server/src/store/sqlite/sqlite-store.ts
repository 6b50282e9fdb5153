import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely } from 'kysely';
import { KyselyAuthStore } from '../kysely-store.js';
import { assertPrivateDatabaseFiles, createPrivately } from '../private-files.js';
import type { OpenedStore, StoreRuntime } from '../runtime.js';
import type { Database } from '../schema.js';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
import { DirectConnection, SqliteQueryRunner, StoreCasePlugin } from './direct-runner.js';
import { FairSqliteDialect } from './driver.js';
import { GroupCommit, walSync, type SyncLog } from './group-commit.js';
import { sqliteChangeCounter, withSessionCache } from './session-cache.js';
import { withStatementCache } from './statement-cache.js';

export interface SqliteStoreOptions {
  migrate?: boolean;
  /**
   * Sync each commit as it is made (`synchronous = FULL`) rather than by
   * group commit: for the operator's commands, whose commits a running
   * server reads without having counted them, and which must be durable
   * before the command says they are done.
   */
  syncEachCommit?: boolean;
  /** How the write-ahead log is synced: `fdatasync` of `<file>-wal` unless a test stands in for the disk. */
  syncLog?: SyncLog;
  /** Checkpoints in a worker thread (with group commit): how often, and when the log is rewound; for tests. */
  checkpoints?: Pick<CheckpointerOptions, 'intervalMs' | 'restartFrames' | 'driver' | 'callTimeoutMs'>;
  /** Told when work the store does in the background fails: the checkpoint worker. */
  onBackgroundError?: (error: Error) => void;
}

/**
 * Opens (creating if needed) the embedded SQLite store at `filename`. Its
 * machinery, and what each piece assumes and guarantees, is told in this
 * folder's README.
 *
 * Durability is that of `synchronous = FULL`: a commit that was answered
 * survives a crash of the process and of the machine. It is had by group
 * commit (`GroupCommit`): commits write the log without syncing it
 * (`synchronous = NORMAL`), and the runtime's `settle()`, which the server
 * awaits before every answer, syncs it off the event loop, once for all
 * the commits made meanwhile. The log is checkpointed into the database
 * by a worker thread (`Checkpointer`), not by the commit that fills it.
 */
export async function openSqliteStore(filename: string, options: SqliteStoreOptions = {}): Promise<OpenedStore> {
  const inMemory = filename === ':memory:';
  if (!inMemory) {
    mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
    assertPrivateDatabaseFiles(filename);
  }
  // The files SQLite creates now (the database, its log and shared memory) are the server's user's alone.
  const { database, grouped } = createPrivately(() => {
    const database = new SqliteDatabase(filename);
    // Group commit syncs the write-ahead log: only where there is one (not in memory, not where WAL is refused).
    const grouped = !inMemory && !options.syncEachCommit && database.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    return { database, grouped };
  });
  database.pragma(inMemory ? 'synchronous = OFF' : grouped ? 'synchronous = NORMAL' : 'synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const log = grouped ? walSync(filename) : undefined;
  const commits = log ? new GroupCommit(options.syncLog ?? log.sync) : undefined;
  const statements = withStatementCache(database, commits);
  const dialect = new FairSqliteDialect({ database: statements }, () => database.inTransaction);
  const db = new Kysely<Database>({ dialect });
  const naming = new StoreCasePlugin();
  const connection = new DirectConnection(database, statements, dialect, naming);
  let checkpointer: Checkpointer | undefined;
  const store = await KyselyAuthStore.open(db, {
    dialect: 'sqlite',
    naming,
    runner: (db) => new SqliteQueryRunner(db, connection),
    ...(options.migrate === undefined ? {} : { migrate: options.migrate }),
    ...(commits && log
      ? {
          durability: {
            settle: () => commits.settle(),
            assertHealthy: () => commits.assertHealthy(),
            close: async () => {
              try {
                await checkpointer?.close();
              } finally {
                await log.close();
              }
            },
          },
        }
      : {}),
  });
  if (!commits) return { store, runtime: { settle: () => Promise.resolve() }, applied: store.applied };

  // Once open (its migrations checkpointed as any commit): from here on, only the worker checkpoints.
  database.pragma('wal_autocheckpoint = 0');
  const worker = new Checkpointer({
    ...options.checkpoints,
    file: filename,
    hold: (work) => db.connection().execute(() => work()),
    written: () => commits.written,
    resumeAutomatic: () => database.pragma('wal_autocheckpoint = 1000'),
    onError: (error) => options.onBackgroundError?.(error),
  });
  checkpointer = worker;
  const runtime: StoreRuntime = {
    settle: () => commits.settle(),
    checkpoints: () => ({ ...worker.stats(), automaticFrames: database.pragma('wal_autocheckpoint', { simple: true }) as number }),
  };
  return { store: withSessionCache(store, sqliteChangeCounter(database, commits)), runtime, applied: store.applied };
}
