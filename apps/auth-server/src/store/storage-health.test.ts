import pino from 'pino';
import { describe, expect, test } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
import { StorageHealth } from './storage-health.js';
import { isDatabaseUnavailable, storageFailureCode } from './unavailable.js';

const failure = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('storage failures', () => {
  test("When SQLite or PostgreSQL says its storage is full, failing or read-only, then it is a storage failure the server answers 503; other errors are not", () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', '53100', '25006']) {
      expect(storageFailureCode(failure(code)), code).toBe(code);
      expect(isDatabaseUnavailable(failure(code)), code).toBe(true);
      // Wrapped, as Kysely's migrator or a service may wrap it.
      expect(storageFailureCode(new Error('outer', { cause: failure(code) })), code).toBe(code);
    }
    for (const code of ['SQLITE_CONSTRAINT', 'SQLITE_FULLY', 'SQLITE_BUSY', '53300', '23505', '25P02']) expect(storageFailureCode(failure(code)), code).toBeUndefined();
    expect(storageFailureCode(new Error('no code'))).toBeUndefined();
  });

  test('When writes fail again and again, then one error line says so, the rest are counted; a success ends it, and a new failure is told again', async () => {
    const lines: { level: number; msg: string; error_code?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const metrics = new Metrics();
    const health = new StorageHealth('/data/auth.sqlite', logger, metrics, () => 0);
    expect(health.observe(failure('SQLITE_CONSTRAINT'))).toBe(false);
    expect(health.failing).toBe(false);
    for (let i = 0; i < 100; i++) expect(health.observe(failure('SQLITE_FULL', 'database or disk is full'))).toBe(true);
    expect(health.failing).toBe(true);
    expect(lines.filter((line) => line.level >= 50)).toEqual([expect.objectContaining({ error_code: 'SQLITE_FULL', msg: expect.stringContaining('writes to /data/auth.sqlite fail (SQLITE_FULL)') })]);
    const scrape = (await metrics.render()).body;
    expect(scrape).toContain('auth_storage_failures_total{code="SQLITE_FULL"} 100');
    expect(scrape).toContain('auth_storage_failing 1');
    health.recovered();
    expect(health.failing).toBe(false);
    expect((await metrics.render()).body).toContain('auth_storage_failing 0');
    health.observe(failure('SQLITE_FULL'));
    expect(lines.filter((line) => line.level >= 50)).toHaveLength(2);
  });
});
