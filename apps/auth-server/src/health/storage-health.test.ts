import pino from 'pino';
import { describe, expect, test } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
import { StorageHealth } from './storage-health.js';

const failure = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('storage health', () => {
  test('When writes fail again and again, then one error line says so and the rest are counted; readiness tries the storage once a second at most, and the first write that succeeds ends it', async () => {
    const lines: { level: number; msg: string; error_code?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const metrics = new Metrics();
    let now = 0;
    let probes = 0;
    let full = true;
    const health = new StorageHealth('/data/auth.sqlite', logger, metrics, () => now, async () => {
      probes++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (full) throw failure('SQLITE_FULL', 'database or disk is full');
    });
    try {
      expect(health.observe(failure('SQLITE_CONSTRAINT'))).toBe(false);
      expect(health.failing).toBe(false);
      expect(await health.recheck()).toBe(true);
      expect(probes).toBe(0);
      for (let i = 0; i < 100; i++) expect(health.observe(failure('SQLITE_FULL', 'database or disk is full'))).toBe(true);
      expect([health.failing, health.failureCode]).toEqual([true, 'SQLITE_FULL']);
      expect(lines.filter((line) => line.level >= 50)).toEqual([expect.objectContaining({ error_code: 'SQLITE_FULL', msg: expect.stringContaining('writes to /data/auth.sqlite fail (SQLITE_FULL)') })]);
      const scrape = (await metrics.render()).body;
      expect(scrape).toContain('auth_storage_failures_total{code="SQLITE_FULL"} 100');
      expect(scrape).toContain('auth_storage_failing 1');

      // Many readiness checks at once: one probe; and none again within the second.
      expect(await Promise.all(Array.from({ length: 50 }, () => health.recheck()))).toEqual(Array.from({ length: 50 }, () => false));
      expect(probes).toBe(1);
      now += 500;
      expect(await health.recheck()).toBe(false);
      expect(probes).toBe(1);
      full = false;
      now += 500;
      expect(await health.recheck()).toBe(true);
      expect(probes).toBe(2);
      expect(health.failing).toBe(false);
      expect(lines.some((line) => line.msg === 'writes to /data/auth.sqlite succeed again')).toBe(true);
      expect((await metrics.render()).body).toContain('auth_storage_failing 0');
      // A new failure is told again.
      health.observe(failure('SQLITE_FULL'));
      expect(lines.filter((line) => line.level >= 50)).toHaveLength(2);
    } finally {
      health.stop();
    }
  });

  test('When the probe meets an error that is not a storage failure, then readiness hears it as such', async () => {
    const health = new StorageHealth('/data/auth.sqlite', pino({ level: 'silent' }), new Metrics(), () => 0, async () => {
      throw failure('SQLITE_BUSY', 'database is locked');
    });
    try {
      health.observe(failure('SQLITE_FULL'));
      await expect(health.recheck()).rejects.toThrow('database is locked');
      expect(health.failing).toBe(true);
    } finally {
      health.stop();
    }
  });
});
