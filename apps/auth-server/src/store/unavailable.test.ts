import { describe, expect, test } from 'vitest';
import { LogSyncFailed } from './sqlite/group-commit.js';
import { isDatabaseUnavailable, storageFailureCode } from './unavailable.js';

const failure = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('storage failures', () => {
  test("When SQLite or PostgreSQL says its storage is full, failing or read-only, then it is a storage failure the server answers 503; other errors are not", () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', '53100', '58030', '25006']) {
      expect(storageFailureCode(failure(code)), code).toBe(code);
      expect(isDatabaseUnavailable(failure(code)), code).toBe(true);
      // Wrapped, as Kysely's migrator or a service may wrap it.
      expect(storageFailureCode(new Error('outer', { cause: failure(code) })), code).toBe(code);
    }
    for (const code of ['SQLITE_CONSTRAINT', 'SQLITE_FULLY', 'SQLITE_BUSY', '53300', '23505', '25P02']) expect(storageFailureCode(failure(code)), code).toBeUndefined();
    expect(storageFailureCode(new Error('no code'))).toBeUndefined();
  });

  test("When the log's sync failed (final, not a disk to free), then it is not taken for a storage failure", () => {
    expect(storageFailureCode(new LogSyncFailed(failure('EIO')))).toBeUndefined();
    expect(isDatabaseUnavailable(new LogSyncFailed(failure('EIO')))).toBe(true);
  });
});
