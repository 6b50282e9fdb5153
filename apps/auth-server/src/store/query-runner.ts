import type { Compilable, Kysely, QueryResult, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * A query of the hot paths (a session check, a refresh), built from its
 * parameters alone: whatever it is asked, it answers the same statement,
 * so a runner may compile it once and run it again with other values.
 */
export type HotQuery<R> = (db: Kysely<Database>, ...parameters: never[]) => Compilable<R>;

/** How the hot queries run on one connection, or in one transaction. */
export interface QueryRunner {
  /** The query's answer for these parameters, in the order the query takes them. */
  run<R>(query: HotQuery<R>, parameters: readonly unknown[]): Promise<QueryResult<R>>;
}

/** A transaction's runner: `end()` once its work has ended, and what still calls on it is refused, as Kysely refuses an ended transaction. */
export interface TransactionQueryRunner extends QueryRunner {
  end(): void;
}

/** The store's runner, outside any transaction. */
export interface StoreQueryRunner extends QueryRunner {
  /** A runner for the work of `trx`, which the store ends when that work ends. */
  transaction(trx: Transaction<Database>): TransactionQueryRunner;
}

/** Builds each query when it runs and hands it to Kysely: what any dialect can do. */
export class KyselyQueryRunner implements StoreQueryRunner, TransactionQueryRunner {
  constructor(private readonly db: Kysely<Database>) {}

  run<R>(query: HotQuery<R>, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    return this.db.executeQuery(query(this.db, ...(parameters as never[])));
  }

  transaction(trx: Transaction<Database>): TransactionQueryRunner {
    return new KyselyQueryRunner(trx);
  }

  /** Kysely refuses an ended transaction's queries itself. */
  end(): void {}
}
