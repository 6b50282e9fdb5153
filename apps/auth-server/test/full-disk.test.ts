import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { describe, expect, test } from 'vitest';
import { metricValue, refresh, signIn, startHarness, type Harness } from './support/harness.js';

interface LogLine {
  level: number;
  msg: string;
  error_code?: string;
  error?: { message?: string };
}

const ERROR = 50;

function logLines(h: Harness): LogLine[] {
  return h.logs.map((line) => JSON.parse(line) as LogLine);
}

/**
 * Rotates the token chain until the store refuses to write: every answer is
 * a grant or a 503 with Retry-After, never anything else. Returns the last
 * refresh token that was answered (acknowledged), and how many were refused.
 */
async function refreshUntilRefused(h: Harness, first: string, attempts: number): Promise<{ acknowledged: string; refused: number; statuses: Set<number> }> {
  let acknowledged = first;
  let refused = 0;
  const statuses = new Set<number>();
  for (let i = 0; i < attempts && refused < 5; i++) {
    const response = await refresh(h, acknowledged);
    statuses.add(response.status);
    if (response.status === 200) {
      acknowledged = ((await response.json()) as { refresh_token: string }).refresh_token;
      continue;
    }
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('10');
    expect(await response.json()).toMatchObject({ status: 503, code: 'service_unavailable' });
    refused++;
  }
  return { acknowledged, refused, statuses };
}

/** What an operator sees while the disk is full, and after it is not. */
async function expectFullThenRecovered(h: Harness, code: string, makeRoom: () => Promise<void>, acknowledged: string, refused: number) {
  const ready = await fetch(`${h.url}/readyz`);
  expect(ready.status).toBe(503);
  expect(ready.headers.get('retry-after')).toBe('10');
  expect(await metricValue(h, 'auth_storage_failing')).toBe(1);
  expect(await metricValue(h, `auth_storage_failures_total{code="${code}"}`)).toBeGreaterThanOrEqual(refused);

  // One line at error level names the cause and the file; no request's failure is logged on its own, and no
  // failed ROLLBACK hides the cause.
  const errors = logLines(h).filter((line) => line.level >= ERROR);
  expect(errors).toHaveLength(1);
  expect(errors[0]!.error_code).toBe(code);
  expect(errors[0]!.msg).toContain(`writes to ${join(h.dataDir, 'auth.sqlite')} fail (${code}): its disk is full, failing or read-only`);
  expect(h.logs.join('\n')).not.toMatch(/cannot rollback|internal_error/);

  await makeRoom();
  // Readiness tries a write of its own (at most once a second, as a load balancer polls): the instance recovers
  // without a restart.
  let readiness = 503;
  for (let i = 0; i < 30 && readiness !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    readiness = (await fetch(`${h.url}/readyz`)).status;
  }
  expect(readiness).toBe(200);
  expect(await metricValue(h, 'auth_storage_failing')).toBe(0);
  expect(logLines(h).some((line) => line.msg === `writes to ${join(h.dataDir, 'auth.sqlite')} succeed again`)).toBe(true);
  // Nothing acknowledged was lost: the last token answered refreshes.
  const next = await refresh(h, acknowledged);
  expect(next.status).toBe(200);
}

describe('a full disk', () => {
  test('When the store has no page left to write, then writes answer 503 with Retry-After, readiness says so, the cause is logged once, and once space returns nothing acknowledged is lost', async () => {
    const h = await startHarness({ config: { metricsPort: 0 } });
    try {
      const grant = await signIn(h);
      // SQLite's own limit on the database's size, on the server's one connection (its store's, under the session cache): its SQLITE_FULL is a full disk's.
      const db = (h.server.store as unknown as { store: { db: Kysely<unknown> } }).store.db;
      // The store's plugin names the pragma's column in camel case.
      const pages = (await sql<{ pageCount: number }>`pragma page_count`.execute(db)).rows[0]!.pageCount;
      expect(pages).toBeGreaterThan(0);
      await sql.raw(`pragma max_page_count = ${pages}`).execute(db);

      const { acknowledged, refused, statuses } = await refreshUntilRefused(h, grant.refresh_token, 2_000);
      expect(refused).toBe(5);
      expect([...statuses].sort()).toEqual([200, 503]);
      await expectFullThenRecovered(h, 'SQLITE_FULL', async () => void (await sql.raw('pragma max_page_count = 1073741823').execute(db)), acknowledged, refused);
    } finally {
      await h.close();
    }
  }, 120_000);

  test('When the file system under the data directory is full (a 4 MB tmpfs), then the same: 503s, not ready, one line that names the cause, and nothing acknowledged lost once a file is deleted', async () => {
    // Mounting needs root, as CI runs; the test says so rather than pass without trying.
    expect(process.getuid?.(), 'this test mounts a tmpfs: run it as root').toBe(0);
    const mountPoint = mkdtempSync(join(tmpdir(), 'aimable-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mountPoint]);
    try {
      const dataDir = join(mountPoint, 'data');
      mkdirSync(dataDir, { mode: 0o700 });
      const h = await startHarness({ config: { metricsPort: 0 }, dataDir });
      try {
        const grant = await signIn(h);
        // Fill what is left of the file system.
        const filler = join(mountPoint, 'filler');
        const fd = openSync(filler, 'w');
        const chunk = Buffer.alloc(64 * 1024);
        try {
          for (;;) writeSync(fd, chunk);
        } catch (error) {
          expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
        } finally {
          closeSync(fd);
        }
        const { acknowledged, refused } = await refreshUntilRefused(h, grant.refresh_token, 5_000);
        expect(refused).toBe(5);
        await expectFullThenRecovered(h, 'SQLITE_FULL', async () => unlinkSync(filler), acknowledged, refused);
      } finally {
        await h.close();
      }
    } finally {
      execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  }, 180_000);
});
