import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';
import type { GroupCommit } from './group-commit.js';

/** Statements kept prepared: every query the store makes, with room to spare. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The database as Kysely's driver sees it, with each statement prepared
 * once: the driver prepares every query anew otherwise, which costs about
 * four times running a cached statement. better-sqlite3 runs one statement
 * at a time, to its end, so a cached statement is never in use twice.
 *
 * With `commits`, every statement that may write is counted there when it
 * runs (`counted`): the direct runner prepares through this cache too, so
 * no statement of the store's connection goes uncounted.
 */
export function withStatementCache(database: SqliteDatabase.Database, commits: GroupCommit | undefined): KyselySqliteDatabase {
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
