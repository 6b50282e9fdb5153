import type SqliteDatabase from 'better-sqlite3';
import { CamelCasePlugin, type CompiledQuery, type Kysely, type QueryResult, type SqliteDatabase as KyselySqliteDatabase, type Transaction } from 'kysely';
import type { HotQuery, StoreQueryRunner, TransactionQueryRunner } from '../query-runner.js';
import type { Database } from '../schema.js';
import type { FairSqliteDialect } from './driver.js';

/** Stand-ins for a compiled query's parameters, unlike any value a caller passes. */
const SLOTS = Array.from({ length: 12 }, (_, i) => `\u0000slot${i}`);

/**
 * Kysely's CamelCasePlugin, which the store speaks through, with a way for
 * rows got past Kysely's executor to be mapped as the plugin maps them,
 * each column's name worked out once.
 */
export class StoreCasePlugin extends CamelCasePlugin {
  readonly #names = new Map<string, string>();

  mapRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
    return rows.map((row) => {
      const mapped: Record<string, unknown> = {};
      for (const key in row) {
        const value = row[key];
        // What the plugin would map inside a value (an object, an array) it maps itself.
        if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) return this.mapRow(row);
        let name = this.#names.get(key);
        if (name === undefined) {
          name = this.camelCase(key);
          if (this.#names.size < 1_024) this.#names.set(key, name);
        }
        mapped[name] = value;
      }
      return mapped;
    });
  }
}

/**
 * SQLite's one connection, as a compiled query runs on it at once, past
 * Kysely's executor: better-sqlite3 answers synchronously, so nothing else
 * runs on the connection meanwhile. The answer is Kysely's driver's, rows
 * mapped by the store's plugin.
 */
export class DirectConnection {
  constructor(
    private readonly database: SqliteDatabase.Database,
    /** The statement cache Kysely's driver prepares through: writes are counted alike. */
    private readonly statements: KyselySqliteDatabase,
    private readonly dialect: FairSqliteDialect,
    private readonly naming: StoreCasePlugin,
  ) {}

  /**
   * Whether a query outside a transaction may run now: nothing holds the
   * connection. While something does (a transaction between two of its
   * statements), a query waits its turn as any other, and so never reads
   * what that transaction has not committed. Nor while a transaction is
   * left open (its ROLLBACK failed): none of the store's is open while
   * nothing holds the connection.
   */
  free(): boolean {
    return this.dialect.driver?.free === true && !this.database.inTransaction;
  }

  execute<R>(compiled: CompiledQuery<R>, parameters: readonly unknown[]): QueryResult<R> {
    const statement = this.statements.prepare(compiled.sql);
    if (statement.reader) return { rows: this.naming.mapRows(statement.all(parameters) as Record<string, unknown>[]) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }
}

/**
 * The hot queries, each compiled once per store (Kysely builds, transforms
 * and compiles a query each time it runs, which costs several times what
 * SQLite takes to answer it). A query is compiled with stand-ins for its
 * parameters, which must come back as its parameters, in order; otherwise
 * it is built every time, as any other.
 */
class CompiledQueries {
  readonly #compiled = new Map<HotQuery<unknown>, CompiledQuery<unknown> | null>();

  constructor(private readonly db: Kysely<Database>) {}

  get<R>(query: HotQuery<R>, count: number): CompiledQuery<R> | null {
    let compiled = this.#compiled.get(query);
    if (compiled === undefined) {
      const candidate = query(this.db, ...(SLOTS.slice(0, count) as never[])).compile();
      const slotted = candidate.parameters.length === count && candidate.parameters.every((parameter, i) => parameter === SLOTS[i]);
      compiled = slotted ? candidate : null;
      this.#compiled.set(query, compiled);
    }
    return compiled as CompiledQuery<R> | null;
  }
}

/**
 * The store's runner on SQLite: a compiled query runs at once while the
 * connection is free, and waits its turn through Kysely otherwise.
 */
export class SqliteQueryRunner implements StoreQueryRunner {
  readonly #compiled: CompiledQueries;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly connection: DirectConnection,
  ) {
    this.#compiled = new CompiledQueries(db);
  }

  async run<R>(query: HotQuery<R>, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    const compiled = this.#compiled.get(query, parameters.length);
    if (compiled === null) return this.db.executeQuery(query(this.db, ...(parameters as never[])));
    if (this.connection.free()) return this.connection.execute(compiled, parameters);
    return this.db.executeQuery<R>({ ...compiled, parameters });
  }

  transaction(trx: Transaction<Database>): TransactionQueryRunner {
    return new SqliteTransactionRunner(trx, this.connection, this.#compiled);
  }
}

/**
 * A transaction's runner on SQLite: while its work runs, the transaction
 * holds the one connection, and a compiled query runs on it at once. Once
 * the work has ended, a query goes Kysely's way, which refuses it.
 */
class SqliteTransactionRunner implements TransactionQueryRunner {
  #open = true;

  constructor(
    private readonly trx: Transaction<Database>,
    private readonly connection: DirectConnection,
    private readonly compiled: CompiledQueries,
  ) {}

  async run<R>(query: HotQuery<R>, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    const compiled = this.compiled.get(query, parameters.length);
    if (compiled === null) return this.trx.executeQuery(query(this.trx, ...(parameters as never[])));
    if (this.#open) return this.connection.execute(compiled, parameters);
    return this.trx.executeQuery<R>({ ...compiled, parameters });
  }

  end(): void {
    this.#open = false;
  }
}
