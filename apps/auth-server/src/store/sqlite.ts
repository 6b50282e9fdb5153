import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDatabase as KyselySqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';
import { KyselyAuthStore, storeCase, type DirectExecutor } from './kysely-store.js';
import type { Database } from './schema.js';
import { assertPrivateDatabaseFiles, createPrivately } from './private-files.js';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
import { GroupCommit, walSync, type SyncLog } from './wal-sync.js';

/** Statements kept prepared: every query the store makes, with room to spare. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The database as Kysely's driver sees it, with each statement prepared
 * once: the driver prepares every query anew otherwise, which costs about
 * four times running a cached statement. better-sqlite3 runs one statement
 * at a time, to its end, so a cached statement is never in use twice.
 */
function withStatementCache(database: SqliteDatabase.Database, commits: GroupCommit | undefined): KyselySqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
        const prepared = database.prepare(sql);
        // Anything but a plain read may write, or commit what was written: BEGIN and COMMIT count too.
        statement = commits && (!prepared.readonly || !prepared.reader) ? counted(prepared as unknown as SqliteStatement, commits, !/^\s*rollback\b/i.test(sql)) : (prepared as unknown as SqliteStatement);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * A statement that tells `commits` each time it ran. Once a sync of the log
 * has failed it runs no more (but a ROLLBACK, which ends what was begun):
 * nothing is written that could not be answered.
 */
function counted(statement: SqliteStatement, commits: GroupCommit, refusedAfterFailure: boolean): SqliteStatement {
  const counting =
    <A extends unknown[], R>(execute: (...args: A) => R) =>
    (...args: A): R => {
      if (refusedAfterFailure) commits.assertHealthy();
      try {
        return execute(...args);
      } finally {
        commits.wrote();
      }
    };
  return {
    reader: statement.reader,
    all: counting((parameters) => statement.all(parameters)),
    run: counting((parameters) => statement.run(parameters)),
    iterate: counting((parameters) => statement.iterate(parameters)),
  };
}

/**
 * Kysely's SQLite driver, with its one connection handed to those who wait
 * for it one at a time, in the order they came. Kysely's own lock wakes
 * every waiter at each release, and all but one wait again: with 32
 * requests waiting, each query cost 32 wake-ups (20,000 concurrent reads
 * took 4.3 ms each instead of 31 µs).
 */
class FairSqliteDriver implements Driver {
  readonly #driver: SqliteDriver;
  readonly #waiting: (() => void)[] = [];
  #held = false;

  constructor(
    config: SqliteDialectConfig,
    private readonly inTransaction: () => boolean,
  ) {
    this.#driver = new SqliteDriver(config);
  }

  /** Nothing holds the connection, and none waits for it. */
  get free(): boolean {
    return !this.#held;
  }

  init(): Promise<void> {
    return this.#driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // A release hands the connection to the first in line, still held: none who came later gets it first.
    if (this.#held) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#held = true;
    return this.#driver.acquireConnection();
  }

  async releaseConnection(): Promise<void> {
    await this.#driver.releaseConnection();
    const next = this.#waiting.shift();
    if (next) next();
    else this.#held = false;
  }

  beginTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#driver.beginTransaction(connection);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#driver.commitTransaction(connection);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite ends a transaction itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM…): a ROLLBACK would then
    // fail with "no transaction is active", and Kysely would throw that in place of the error that caused it.
    if (!this.inTransaction()) return;
    await this.#driver.rollbackTransaction(connection);
  }

  destroy(): Promise<void> {
    return this.#driver.destroy();
  }
}

class FairSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  #driver: FairSqliteDriver | undefined;

  constructor(
    config: SqliteDialectConfig,
    /** Whether the connection is in a transaction now, as SQLite itself says. */
    private readonly inTransaction: () => boolean,
  ) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    this.#driver = new FairSqliteDriver(this.#config, this.inTransaction);
    return this.#driver;
  }

  /** The driver Kysely made (it makes one, when it is constructed). */
  get driver(): FairSqliteDriver | undefined {
    return this.#driver;
  }
}

/**
 * The hot paths' compiled queries, run on the connection at once: in a
 * transaction, which holds it, or while nothing holds it. better-sqlite3
 * answers synchronously, so nothing else runs on the connection meanwhile.
 * The answer is Kysely's driver's, rows mapped as the store's plugin maps
 * them.
 */
function directExecutor(connection: SqliteDatabase.Database, statements: KyselySqliteDatabase, dialect: FairSqliteDialect): DirectExecutor {
  return {
    // Nor while a transaction is left open (its ROLLBACK failed): none of this store's is open while nothing holds the connection.
    free: () => dialect.driver?.free === true && !connection.inTransaction,
    execute<R>(compiled: CompiledQuery<R>, parameters: readonly unknown[]): QueryResult<R> {
      const statement = statements.prepare(compiled.sql);
      if (statement.reader) return { rows: storeCase.mapRows(statement.all(parameters) as Record<string, unknown>[]) as R[] };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    },
  };
}

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
 * Opens (creating if needed) the embedded SQLite store at `filename`.
 *
 * Durability is that of `synchronous = FULL`: a commit that was answered
 * survives a crash of the process and of the machine. It is had by group
 * commit (`GroupCommit`): commits write the log without syncing it
 * (`synchronous = NORMAL`), and the store's `settle()`, which the server
 * awaits before every answer, syncs it off the event loop, once for all
 * the commits made meanwhile. The log is checkpointed into the database
 * by a worker thread (`Checkpointer`), not by the commit that fills it.
 */
export async function openSqliteStore(filename: string, options: SqliteStoreOptions = {}): Promise<KyselyAuthStore> {
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
  // Another connection's commit (an operator's command) changes `data_version`; this store's own writes are counted.
  // Not read while a transaction holds the connection: the pragma would begin its snapshot before its first statement does.
  const dataVersion = database.prepare('PRAGMA data_version').pluck();
  let checkpointer: Checkpointer | undefined;
  const store = await KyselyAuthStore.open(db, {
    dialect: 'sqlite',
    direct: directExecutor(database, statements, dialect),
    ...(options.migrate === undefined ? {} : { migrate: options.migrate }),
    ...(commits && log
      ? {
          durability: {
            commits,
            close: async () => {
              try {
                await checkpointer?.close();
              } finally {
                await log.close();
              }
            },
          },
          readVersion: () => (database.inTransaction ? undefined : commits.written + (dataVersion.get() as number)),
          checkpoints: () => ({ ...checkpointer!.stats(), automaticFrames: database.pragma('wal_autocheckpoint', { simple: true }) as number }),
        }
      : {}),
  });
  if (commits) {
    // Once open (its migrations checkpointed as any commit): from here on, only the worker checkpoints.
    database.pragma('wal_autocheckpoint = 0');
    checkpointer = new Checkpointer({
      ...options.checkpoints,
      file: filename,
      hold: (work) => db.connection().execute(() => work()),
      written: () => commits.written,
      resumeAutomatic: () => database.pragma('wal_autocheckpoint = 1000'),
      onError: (error) => options.onBackgroundError?.(error),
    });
  }
  return store;
}
